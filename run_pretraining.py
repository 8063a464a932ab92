"""Pretrains an ELECTRA model (or evaluates a pretrained one).

Usage:
  python run_pretraining.py --data-dir DIR --model-name NAME \
      [--hparams '{"debug": true}' | --hparams configs/electra_tiny_zh.json]
Run it again with the same arguments to continue from the last checkpoint.
"""

from util import startup

if __name__ == "__main__":
  startup.imports_begin()

import argparse  # noqa: E402

import configure_pretraining  # noqa: E402
from pretrain import demo  # noqa: E402
from pretrain import run  # noqa: E402
from util import cli  # noqa: E402


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_data_flags(
    parser,
    configure_pretraining.DEFAULT_DATA_DIR,
    configure_pretraining.DEFAULT_MODEL_NAME,
  )
  cli.add_hparams_flag(
    parser,
    "Pretraining hyperparameters (default: configs/demo.json, the demo run)",
  )
  args = parser.parse_args(argv)
  if args.hparams is None:
    args.hparams = [configure_pretraining.DEFAULT_HPARAMS]
  return args


def main(argv=None):
  args = parse_args(argv)
  config = configure_pretraining.PretrainingConfig(
    args.model_name, args.data_dir, **cli.merged_hparams(args)
  )
  demo.ensure_demo_tfrecords(config, configure_pretraining.DEFAULT_DATA_DIR)
  return run.train_or_eval(config)


if __name__ == "__main__":
  startup.imports_done()
  cli.run(main)
