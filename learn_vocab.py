"""Learns a WordPiece vocab.txt from raw text, for build_pretraining_dataset.py.

Example:
  python learn_vocab.py --corpus-dir my_corpus --output my_vocab.txt \
      --vocab-size 21128
"""

import argparse
import os

from pretrain import vocab_learner
from util import cli
from util import files as files_lib
from util import logs


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--corpus-dir": "Text files (as for build_pretraining_dataset.py).",
    },
  )
  parser.add_argument("--output", required=True, help="The vocab file.")
  parser.add_argument(
    "--vocab-size",
    type=int,
    default=21128,
    help="Target size; every character of the corpus is "
    "kept, so a small corpus of Chinese text may "
    "exceed a small target.",
  )
  parser.add_argument(
    "--layout",
    choices=["bert", "compact"],
    default="bert",
    help="bert: [PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 "
    "[MASK]=103; compact: those five at ids 0-4.",
  )
  parser.add_argument(
    "--no-lower-case", dest="do_lower_case", action="store_false"
  )
  parser.add_argument(
    "--no-strip-accents", dest="strip_accents", action="store_false"
  )
  parser.add_argument(
    "--overwrite", action="store_true", help="Replace --output if it exists."
  )
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  if os.path.exists(args.output) and not args.overwrite:
    raise FileExistsError(
      f"--output {args.output} exists; pass --overwrite to replace it"
    )
  counts = vocab_learner.count_words(
    args.corpus_dir, args.do_lower_case, args.strip_accents
  )
  vocab = vocab_learner.learn_vocab(counts, args.vocab_size, args.layout)
  files_lib.atomic_write_text("\n".join(vocab) + "\n", args.output)
  logs.log(
    f"Wrote {len(vocab)} tokens ({len(counts)} distinct words) to {args.output}"
  )


if __name__ == "__main__":
  cli.run(main)
