"""Writes raw text out as TFRecords that ELECTRA can be pretrained on.

Every file under --corpus-dir (plain or .gz, UTF-8) holds one sentence per
line; blank lines separate documents. Masking happens online, in
run_pretraining.py, so the records hold only input_ids, input_mask and
segment_ids (and word_ids with --word-segmentation, for whole-word and span
masking).
"""

import argparse

from pretrain import dataset_builder
from util import cli
from util import logs


def str2bool(text):
  """Parses true/false flags (the official `type=bool` took "false" as True)."""
  value = text.strip().lower()
  if value in ("1", "true", "yes", "y", "on"):
    return True
  if value in ("0", "false", "no", "n", "off"):
    return False
  raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--corpus-dir": "Location of pre-training text files.",
      "--vocab-file": "WordPiece vocab.txt or SentencePiece .model.",
      "--output-dir": "Where to write out the tfrecords.",
    },
  )
  parser.add_argument(
    "--max-seq-length",
    default=128,
    type=int,
    help="Number of tokens per example.",
  )
  parser.add_argument(
    "--num-processes",
    default=1,
    type=int,
    help="Parallelize across multiple processes.",
  )
  parser.add_argument(
    "--blanks-separate-docs",
    default=True,
    type=str2bool,
    help="Whether blank lines indicate document boundaries (true/false).",
  )
  parser.add_argument(
    "--do-lower-case",
    dest="do_lower_case",
    action="store_true",
    help="Lower case input text.",
  )
  parser.add_argument(
    "--no-lower-case",
    dest="do_lower_case",
    action="store_false",
    help="Don't lower case input text.",
  )
  _add_build_flags(parser)
  _add_segmentation_flags(parser)
  return parser.parse_args(argv)


def _add_build_flags(parser):
  """Tokenizer, sharding and safety flags."""
  parser.add_argument(
    "--do-strip-accents",
    dest="strip_accents",
    action="store_true",
    help="Strip accents (default).",
  )
  parser.add_argument(
    "--no-strip-accents",
    dest="strip_accents",
    action="store_false",
    help="Don't strip accents.",
  )
  parser.add_argument(
    "--num-out-files",
    default=0,
    type=int,
    help="Number of shards (default: one per 16 MiB of "
    "text, at least one per process).",
  )
  parser.add_argument(
    "--seed",
    default=0,
    type=int,
    help="Seed of the example packing (same seed, corpus "
    "and --num-processes: same output).",
  )
  parser.add_argument(
    "--overwrite",
    action="store_true",
    help="Replace the shards already in --output-dir.",
  )
  parser.add_argument(
    "--replace-invalid-utf8",
    action="store_true",
    help="Replace invalid UTF-8 by U+FFFD (counted in the "
    "manifest) instead of stopping.",
  )
  parser.add_argument(
    "--python-tokenizer",
    dest="fast_tokenizer",
    action="store_false",
    help="Tokenize in pure Python (same ids, slower).",
  )
  parser.set_defaults(do_lower_case=True, strip_accents=True)


def _add_segmentation_flags(parser):
  """Word boundaries for whole-word and span masking."""
  parser.add_argument(
    "--word-segmentation",
    default="none",
    choices=["none", "jieba", "whitespace", "ref"],
    help="Also write each token's word index (feature word_ids) for "
    "whole-word and span masking: words from jieba (pip install jieba), "
    "from the corpus's spaces, or from run_chinese_ref.py files in "
    "--ref-dir (default none: no word ids).",
  )
  parser.add_argument(
    "--ref-dir",
    default=None,
    help="With --word-segmentation ref: the reference file of each corpus "
    "file, at the same relative path.",
  )


def main(argv=None):
  options = dataset_builder.BuildOptions(**vars(parse_args(argv)))
  manifest = dataset_builder.build(options)
  logs.log(
    f"Wrote {manifest['examples']} examples ({manifest['tokens']} "
    f"tokens) into {len(manifest['shards'])} shards in "
    f"{options.output_dir} in {manifest['seconds']}s"
  )


if __name__ == "__main__":
  cli.run(main)
