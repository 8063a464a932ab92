"""Command-line pieces shared by the scripts: the --hparams flag."""

from util import hparams as hparams_lib


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
