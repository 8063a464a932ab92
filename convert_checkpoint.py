"""Writes one of our checkpoints in the official TF1 layout (and back).

Usage:
  python convert_checkpoint.py --checkpoint data/models/tiny_zh \
      --output exported/model.ckpt-1000000
The output holds every variable under its official name (plus Adam slots
and global_step when present), so TF1 tools and converters read it; our
own loaders (init_checkpoint, run_finetuning, export_savedmodel) read both.
"""

import argparse

from interop import checkpoints
from util import cli
from util import logs


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--checkpoint": "Directory, 'checkpoint' file or prefix.",
      "--output": "Output prefix, e.g. out/model.ckpt-1000.",
    },
  )
  args = parser.parse_args(argv)
  count = checkpoints.write_tf1_checkpoint(args.checkpoint, args.output)
  logs.log(f"Wrote {count} tensors to {args.output}")


if __name__ == "__main__":
  main()
