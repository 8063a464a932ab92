"""Fine-tunes a pretrained ELECTRA on CLUE tasks (or your own).

Usage:
  python run_finetuning.py --data-dir DIR --model-name NAME \
      --hparams '{"task_names": ["tnews"], "model_size": "tiny", ...}'
reads <data-dir>/finetuning_data/<task>/{train,dev,test}.json and the
pretrained checkpoint in <data-dir>/models/<model-name>.
"""

import argparse

import configure_finetuning
from finetune.run import run_finetuning
from util import hparams as hparams_lib


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", required=True,
                      help="Location of data files (model weights, etc).")
  parser.add_argument("--model-name", required=True,
                      help="The name of the model being fine-tuned.")
  parser.add_argument("--hparams", action="append", default=[],
                      help="JSON dict of hyperparameters, or a .json file; "
                           "repeat it to layer several (later ones win).")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  config = configure_finetuning.FinetuningConfig(
      args.model_name, args.data_dir, **hparams_lib.merge_hparams(args.hparams))
  return run_finetuning(config)


if __name__ == "__main__":
  main()
