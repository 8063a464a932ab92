"""Writes one of our checkpoints in the official TF1 layout (and back).

Usage:
  python convert_checkpoint.py --checkpoint data/models/tiny_zh \
      --output exported/model.ckpt-1000000
The output holds every variable under its official name (plus Adam slots
and global_step when present), so TF1 tools and converters read it; our
own loaders (init_checkpoint, run_finetuning, export_savedmodel) read both.
"""

import argparse

from model import checkpoints
from util import utils


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", required=True,
                      help="Directory, 'checkpoint' file or prefix.")
  parser.add_argument("--output", required=True,
                      help="Output prefix, e.g. out/model.ckpt-1000.")
  args = parser.parse_args(argv)
  count = checkpoints.write_tf1_checkpoint(args.checkpoint, args.output)
  utils.log(f"Wrote {count} tensors to {args.output}")


if __name__ == "__main__":
  main()
