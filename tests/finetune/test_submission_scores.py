"""The submission file scores what the trainer scored, for every task type
and data layout, at a packed length that cuts some texts.

The test split is a copy of dev, so ``score_predictions.py`` on the test
submission must give the trainer's dev metrics; every submission carries one
id per row; a rerun with other training hparams is refused, and a finished
trial reused by a rerun still writes its test predictions.
"""

import json
import os
import shutil

import pytest
from helpers import DEMO_FINETUNE_RUN
from helpers import demo_sentences
from helpers import write_cluener

import score_predictions
from conftest import finetune_main
from finetune import readers

pytestmark = pytest.mark.slow

TASKS = ["single", "tsv_single", "similarity", "cluener", "ner"]
CUSTOM = {
  "single": {"text_a": "text_a", "label": "label", "labels": ["a", "b", "c"]},
  # a TSV with no id column: submission ids are row positions
  "tsv_single": {
    "format": "tsv", "text_a": "text_a", "text_b": "text_b", "label": "label",
    "labels": "infer",
  },
  "similarity": {
    "type": "regression", "text_a": "text_a", "text_b": "text_b",
    "label": "label",
  },
  # CoNLL files have no ids either
  "ner": {"type": "tagging", "entity_types": "infer", "scheme": "BIO"},
}  # fmt: skip
HPARAMS = dict(
  DEMO_FINETUNE_RUN,
  task_names=TASKS,
  custom_tasks=CUSTOM,
  max_seq_length=20,  # cuts the longer texts (entities past it are missed)
  train_batch_size=8,
  num_train_epochs=8.0,
  learning_rate=3e-3,
  write_test_outputs=True,
)


def write_split_files(root):
  """train = dev = test for every task (test: the dev file copied)."""
  lines = demo_sentences()
  data = os.path.join(root, "finetuning_data")
  rows = [
    {"id": f"s{i}", "text_a": lines[i], "text_b": lines[i + 1],
     "label": "abc"[i % 3], "value": 1 + i % 5}
    for i in range(18)
  ]  # fmt: skip
  for task in ("single", "similarity"):
    os.makedirs(os.path.join(data, task))
    with open(os.path.join(data, task, "train.json"), "w") as f:
      for row in rows:
        label = row["value"] if task == "similarity" else row["label"]
        line = {k: row[k] for k in ("id", "text_a", "text_b")}
        f.write(json.dumps(dict(line, label=label), ensure_ascii=False) + "\n")
  os.makedirs(os.path.join(data, "tsv_single"))
  with open(os.path.join(data, "tsv_single", "train.tsv"), "w") as f:
    f.write("text_a\ttext_b\tlabel\n")
    for i, row in enumerate(rows):
      f.write(f"{row['text_a']}\t{row['text_b']}\t{'xy'[i % 2]}\n")
  write_cluener(root, (("train", 24),))
  os.makedirs(os.path.join(data, "ner"))
  with open(os.path.join(data, "ner", "train.txt"), "w") as f:
    for i in range(16):
      text = "".join((lines[i] + lines[i + 1]).split())
      start = 3 + (i * 5) % 24  # some entities lie past the packed length
      for k, char in enumerate(text):
        tag = "O"
        if start <= k < start + 3:
          tag = ("B-" if k == start else "I-") + ("loc" if i % 2 else "per")
        f.write(f"{char} {tag}\n")
      f.write("\n")
  for task in TASKS:
    directory = os.path.join(data, task)
    (train,) = os.listdir(directory)
    suffix = os.path.splitext(train)[1]
    for split in ("dev", "test"):
      shutil.copy(
        os.path.join(directory, train), os.path.join(directory, split + suffix)
      )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("submissions")
  write_split_files(str(root))
  results = finetune_main(root, HPARAMS)[0]
  return root, results


def submission(root, task):
  name = f"{task}_predict.json"
  return str(root / "models" / "m" / "test_predictions" / "trial_1" / name)


def trial_dir(root):
  name = ",".join(TASKS) + "_model_1"
  return str(root / "models" / "m" / "finetuning_models" / name)


def gold(root, task):
  directory = root / "finetuning_data" / task
  return str(next(p for p in directory.iterdir() if p.stem == "dev"))


@pytest.mark.parametrize("task", TASKS)
def test_the_test_submission_scores_as_the_trainer_scored_dev(trained, task):
  root, results = trained
  # the tasks as the checkpoint recorded them (labels, types, ranges)
  scored = score_predictions.score(
    task, gold(root, task), submission(root, task), checkpoint=trial_dir(root)
  )
  compared = [m for m in results[task] if m not in ("loss", "truncated")]
  assert compared
  for metric in compared:
    assert scored[metric] == pytest.approx(results[task][metric], abs=1e-9), (
      metric
    )
  ids = list(readers.read_predictions(submission(root, task)))
  assert len(ids) == len(set(ids)) > 1


def test_taggers_report_the_texts_they_cut(trained):
  _, results = trained
  assert results["cluener"]["truncated"] > 0
  assert results["ner"]["truncated"] > 0
  assert results["ner"]["f1"] > 0  # not a model that predicts nothing


def test_a_rerun_with_other_training_hparams_is_refused(trained):
  root, results = trained
  changed = dict(HPARAMS, learning_rate=1e-2, num_train_epochs=3.0)
  with pytest.raises(FileExistsError, match="learning_rate: 0.003 -> 0.01"):
    finetune_main(root, changed)
  # the same command again reuses the trial and still writes its test
  # predictions
  os.remove(submission(root, "single"))
  again = finetune_main(root, dict(HPARAMS, log_every=7))[0]
  assert again == results
  assert os.path.exists(submission(root, "single"))
