"""Command-line pieces shared by the scripts: flags and error reporting."""

import os
import sys

from util import hparams as hparams_lib

# what bad input raises: a wrong value or hparam, a missing or unreadable
# file (OSError covers FileNotFoundError, FileExistsError, PermissionError)
USER_ERRORS = (ValueError, OSError)


def run(main, argv=None):
  """Runs an entry point's ``main``; bad input is one line on stderr.

  The message (which names the file, field or hparam) is printed as
  ``<script>: error: <message>`` and the exit code is 2. Set
  ELECTRA_TRACEBACK=1 to see the traceback instead.
  """
  try:
    return main(argv)
  except USER_ERRORS as e:
    if os.environ.get("ELECTRA_TRACEBACK"):
      raise
    script = os.path.basename(sys.argv[0] or "electra")
    message = " ".join(str(e).split("\n"))
    print(f"{script}: error: {message}", file=sys.stderr)
    raise SystemExit(2) from None


def add_hparams_flag(parser, what="Hyperparameters"):
  """Adds the repeatable ``--hparams`` (a JSON dict or a .json file)."""
  parser.add_argument(
    "--hparams",
    action="append",
    default=None,
    help=f"{what}: a JSON dict or a .json file; repeat it "
    f"to layer several (later ones win).",
  )


def add_data_flags(parser, data_dir_default=None, model_name_default=None):
  """Adds the official ``--data-dir`` and ``--model-name``."""
  parser.add_argument(
    "--data-dir",
    default=data_dir_default,
    required=data_dir_default is None,
    help="Location of data files (TFRecords, vocab, models).",
  )
  parser.add_argument(
    "--model-name",
    default=model_name_default,
    required=model_name_default is None,
    help="The name of the model (its directory under <data-dir>/models).",
  )


def merged_hparams(args, default=None):
  """The --hparams of ``args`` merged (later ones win); ``default`` (a list
  of sources) when none were given."""
  sources = args.hparams if args.hparams is not None else (default or [])
  return hparams_lib.merge_hparams(sources)


def add_required(parser, flags):
  """Adds required string flags (paths, usually): {flag: help text}."""
  for flag, help_text in flags.items():
    parser.add_argument(flag, required=True, help=help_text)
