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
to results/<task>_dev_predictions.json. --checkpoint DIR (a fine-tuned
checkpoint) describes the tasks as they were trained, your own included;
--hparams ("custom_tasks") does the same for checkpoints that record
nothing, and overrides.
"""

import argparse
import json

import configure_finetuning
from finetune import head_specs
from finetune import task_builder
from interop import model_record
from util import cli


def recorded_tasks(checkpoint):
  """The task hparams a fine-tuned checkpoint records (its model.json), with
  what its tasks.json says in place of labels, types and ranges that were
  inferred from a train file ("infer"), so no data file is needed."""
  task_hparams = model_record.recorded_task_hparams(checkpoint)
  if not task_hparams:
    raise ValueError(
      f"--checkpoint {checkpoint} records no tasks (no model.json of a "
      f"fine-tuned checkpoint); pass --hparams with its custom_tasks"
    )
  specs = head_specs.read_descriptions(checkpoint) or {}
  custom = {}
  for name, spec in task_hparams.get("custom_tasks", {}).items():
    spec, head = dict(spec), specs.get(name)
    if head is not None and head.kind == "classification":
      spec["labels"] = list(head.labels)
    elif head is not None and head.kind == "regression":
      spec.update(min_value=head.value_shift, max_value=head.value_scale)
    elif head is not None and head.kind == "tagging":
      spec["entity_types"] = sorted(
        {tag.split("-", 1)[1] for tag in head.labels if tag != "O"}
      )
    custom[name] = spec
  return dict(task_hparams, custom_tasks=custom)


def score(task_name, gold, predictions, hparams=None, checkpoint=None):
  """{metric: value} of a predictions file against a gold file; the tasks
  are those the fine-tuned ``checkpoint`` records, when given, with
  ``hparams`` over them."""
  recorded = recorded_tasks(checkpoint) if checkpoint else {}
  hparams = dict(recorded, **(hparams or {}), task_names=[task_name])
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
  parser.add_argument(
    "--checkpoint",
    default=None,
    help="A fine-tuned checkpoint directory: its tasks (custom_tasks, "
    "labels, tagging scheme) as it recorded them.",
  )
  args = parser.parse_args(argv)
  results = score(
    args.task,
    args.gold,
    args.predictions,
    cli.merged_hparams(args),
    args.checkpoint,
  )
  print(json.dumps(results, sort_keys=True))
  return results


if __name__ == "__main__":
  cli.run(main)
