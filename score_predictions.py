"""Scores a saved predictions file the way the task's official scorer does.

Usage:
  python score_predictions.py --task cmrc2018 --gold dev.json \
      --predictions cmrc2018_dev_predictions.json
  python score_predictions.py --task tnews --gold tnews/dev.json \
      --predictions tnews11_predict.json
  python score_predictions.py --task cluener --gold cluener/dev.json \
      --predictions cluener_predict.json
  python score_predictions.py --task c3 --gold c3/ \
      --predictions c3_dev_predictions.json
  python score_predictions.py --task chid --gold chid/dev.json \
      --predictions chid11_predict.json
Prints one JSON line: cmrc2018 (and drcd) {"em", "f1", "total", "skip"} on
SQuAD-format gold and a {id: text} file; classification tasks their
accuracy (binary tasks also precision/recall/F1) on labelled JSON lines (or
the task's own format) against {"id", "label"} lines; regression tasks
Pearson, Spearman and MSE on the label's own scale; tagging tasks entity
precision/recall/F1 overall and per type; multiple-choice tasks accuracy
(and "missing") of {"id", "label"} lines (C3; --gold a labelled C3 file,
or the directory of d-dev.json and m-dev.json), a {blank: index} object or
{"id", "answer"} lines (CHID in CLUE's or FewCLUE's layout; CLUE's reads
the _answer.json beside the gold file). These are the functions
run_finetuning.py reports dev metrics with, and it writes what it scored
to results/<task>_dev_predictions.json. --hparams describes your own
tasks ("custom_tasks").
"""

import argparse
import json

import configure_finetuning
from finetune import task_builder
from util import cli


def score(task_name, gold, predictions, hparams=None):
  """{metric: value} of a predictions file against a gold file."""
  hparams = dict(hparams or {}, task_names=[task_name])
  config = configure_finetuning.FinetuningConfig("score", "", **hparams)
  task = task_builder.get_task(config, task_name)
  return task.score_file(gold, predictions)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--task", required=True, help="A task name.")
  cli.add_required(
    parser,
    {
      "--gold": "The labelled data file.",
      "--predictions": "The predictions (submission) file.",
    },
  )
  cli.add_hparams_flag(parser, "Fine-tuning hparams (custom_tasks)")
  args = parser.parse_args(argv)
  results = score(
    args.task, args.gold, args.predictions, cli.merged_hparams(args)
  )
  print(json.dumps(results, sort_keys=True))
  return results


if __name__ == "__main__":
  cli.run(main)
