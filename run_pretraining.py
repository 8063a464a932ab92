"""Pretrains an ELECTRA model (or evaluates a pretrained one).

Usage:
  python run_pretraining.py --data-dir DIR --model-name NAME \
      [--hparams '{"debug": true}' | --hparams configs/electra_tiny_zh.json]
Run it again with the same arguments to continue from the last checkpoint.
"""

import argparse

import configure_pretraining
from pretrain import demo
from pretrain.trainer import train_or_eval
from util import hparams as hparams_lib


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir",
                      default=configure_pretraining.DEFAULT_DATA_DIR,
                      help="Location of data files (TFRecords, vocab, "
                           "models); default: the bundled demo")
  parser.add_argument("--model-name",
                      default=configure_pretraining.DEFAULT_MODEL_NAME,
                      help="The name of the model being pretrained.")
  parser.add_argument("--hparams", action="append",
                      help="JSON dict of hyperparameters, or a .json file; "
                           "repeat it to layer several (later ones win). "
                           "Default: configs/demo.json (the demo run).")
  args = parser.parse_args(argv)
  if args.hparams is None:
    args.hparams = [configure_pretraining.DEFAULT_HPARAMS]
  return args


def main(argv=None):
  args = parse_args(argv)
  hparams = hparams_lib.merge_hparams(args.hparams)
  config = configure_pretraining.PretrainingConfig(
      args.model_name, args.data_dir, **hparams)
  demo.ensure_demo_tfrecords(config)
  return train_or_eval(config)


if __name__ == "__main__":
  main()
