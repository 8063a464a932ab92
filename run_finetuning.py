"""Fine-tunes a pretrained ELECTRA on CLUE tasks (or your own).

Usage:
  python run_finetuning.py --data-dir DIR --model-name NAME \
      --hparams '{"task_names": ["tnews"], "model_size": "tiny", ...}'
reads <data-dir>/finetuning_data/<task>/{train,dev,test}.json and the
pretrained checkpoint in <data-dir>/models/<model-name>.
"""

from util import startup

if __name__ == "__main__":
  startup.imports_begin()

import argparse  # noqa: E402

import configure_finetuning  # noqa: E402
from finetune import driver  # noqa: E402
from util import cli  # noqa: E402


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_data_flags(parser)
  cli.add_hparams_flag(parser, "Fine-tuning hyperparameters")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  config = configure_finetuning.FinetuningConfig(
    args.model_name, args.data_dir, **cli.merged_hparams(args)
  )
  return driver.run_finetuning(config)


if __name__ == "__main__":
  startup.imports_done()
  cli.run(main)
