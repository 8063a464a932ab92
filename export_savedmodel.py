"""Exports a pretrained or fine-tuned ELECTRA checkpoint as a SavedModel.

Usage:
  python export_savedmodel.py --checkpoint data/models/tiny_zh \
      --hparams configs/electra_tiny_zh.json --output exported/tiny_zh \
      [--vocab-file data/vocab.txt --max-seq-length 128]
--checkpoint may be ours or an official TF1 one. --hparams are the
pretraining hyperparameters that describe the model's shape. With
--vocab-file, fine-tuned classifiers also get a signature that takes raw
text and tokenizes inside the graph.
"""

import argparse
import os

from model import export
from util import hparams as hparams_lib
from util import utils


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", required=True)
  parser.add_argument("--hparams", action="append", default=[],
                      help="Pretraining hparams (JSON or .json); repeatable.")
  parser.add_argument("--output", required=True)
  parser.add_argument("--vocab-file", default=None)
  parser.add_argument("--max-seq-length", type=int, default=128)
  args = parser.parse_args(argv)
  if os.path.exists(args.output) and os.listdir(args.output):
    raise FileExistsError(f"--output {args.output} is not empty")
  names, report = export.export(
      hparams_lib.merge_hparams(args.hparams), args.checkpoint, args.output,
      args.vocab_file, args.max_seq_length)
  utils.log(report.summary())
  utils.log(f"Wrote a SavedModel with signatures {names} to {args.output}")
  return names


if __name__ == "__main__":
  main()
