"""The model and data the cross-path tests share: one small odd-sized
model fine-tuned on five task types at once (single-text classification,
pairs, regression, CLUENER tagging, CMRC 2018 QA), the trainer's dev
predictions, and the helpers that decode an export's raw outputs."""

import json
import os
import shutil

import numpy as np
import pytest
from helpers import trainer_outputs
from helpers import write_cluener

from conftest import ROOT
from conftest import TINY_HPARAMS
from conftest import finetune_main

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")
TASKS = ["single", "pairs", "similarity", "cluener", "cmrc2018"]
SHAPE = {
  "model_size": "small",
  "model_hparam_overrides": dict(
    TINY_HPARAMS["model_hparam_overrides"], max_position_embeddings=40
  ),
  "embedding_size": TINY_HPARAMS["embedding_size"],
  "vocab_size": 2244,
}
HPARAMS = dict(
  SHAPE,
  task_names=TASKS,
  init_checkpoint=None,
  max_seq_length=40,
  doc_stride=16,
  train_batch_size=8,
  # dev texts are train texts: a model that learned them predicts varied
  # labels and entities, so a path that feeds other inputs cannot agree
  num_train_epochs=6.0,
  learning_rate=2e-3,
  custom_tasks={
    "single": {"labels": ["a", "b", "c"]},
    "pairs": {"text_b": "text_b", "labels": "infer"},
    "similarity": {"type": "regression", "text_b": "text_b"},
  },
)
for _spec in HPARAMS["custom_tasks"].values():
  _spec.update(text_a="text_a", label="label")
CUSTOM_LABELS = {"single": ["a", "b", "c"], "pairs": ["0", "1"]}


def sentences():
  with open(
    os.path.join(ROOT, "demo", "corpus", "science.txt"), encoding="utf-8"
  ) as f:
    return [line for line in f.read().split("\n") if len(line) > 12]


def write_jsonl(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_text_tasks(root, lines):
  """single (3 labels), pairs (2) and similarity (values 5..47)."""
  for split, size in (("train", 24), ("dev", 11)):
    for task in ("single", "pairs", "similarity"):
      rows = []
      for i in range(size):
        row = {"id": i, "text_a": lines[i % len(lines)]}
        if task != "single":
          row["text_b"] = lines[(3 * i + 1) % len(lines)]
        if task == "similarity":
          row["label"] = 5 + (7 * i) % 43
        else:
          labels = CUSTOM_LABELS[task]
          row["label"] = labels[i % len(labels)]
        rows.append(row)
      write_jsonl(
        os.path.join(root, "finetuning_data", task, split + ".json"), rows
      )


def write_cmrc(root, lines):
  for split, count in (("train", 16), ("dev", 7)):
    paragraphs = []
    for i in range(count):
      context = "".join(lines[i % len(lines) :][:3])
      qas = [
        {
          "id": f"{split}-{i}",
          "question": "这里说的是什么？",
          "answers": [{"text": context[4:8], "answer_start": 4}],
        }
      ]
      paragraphs.append({"context": context, "qas": qas})
    path = os.path.join(root, "finetuning_data", "cmrc2018", split + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
      json.dump({"data": [{"paragraphs": paragraphs}]}, f, ensure_ascii=False)


def read_predictions(path):
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f.read().split("\n") if line]


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
  """(data dir, trainer's dev results, {task: its dev predictions file})."""
  root = tmp_path_factory.mktemp("cross")
  shutil.copy(DEMO_VOCAB, root / "vocab.txt")
  lines = sentences()
  write_text_tasks(str(root), lines)
  write_cluener(str(root), (("train", 24), ("dev", 11)))
  write_cmrc(str(root), lines)
  results = finetune_main(root, HPARAMS)[0]
  results_dir = root / "models" / "m" / "results"
  files = {t: str(results_dir / f"{t}_dev_predictions.json") for t in TASKS}
  return root, results, files


def checkpoint_dir(root):
  name = ",".join(TASKS)
  return str(root / "models" / "m" / "finetuning_models" / f"{name}_model_1")


@pytest.fixture(scope="module")
def dev_features(finetuned):
  """{task: (task, examples, features as arrays, tokenizer, logits)} of the
  dense tasks: the features the tasks themselves make (what the trainer
  fed), and the fine-tuned model's logits on them ([dev, labels], tagging
  [dev, seq_len, tags])."""
  import configure_finetuning

  root, _, _ = finetuned
  config = configure_finetuning.FinetuningConfig(
    "m", str(root), **dict(HPARAMS, task_names=TASKS[:4])
  )
  return trainer_outputs(config, checkpoint_dir(root))


def assert_same_logits(name, ours, exported, arrays, atol):
  """Exported logits equal the trainer's (the de-normalised value for
  regression; every real token for tagging)."""
  task = ours[0]
  reference = ours[4]
  if name == "similarity":
    reference = reference[:, 0] * task.max_value + task.min_value
  if name == "cluener":
    real = arrays["input_mask"].astype(bool)
    reference, exported = reference[real], exported[real]
  np.testing.assert_allclose(exported, reference, atol=atol, rtol=atol)


def decode(name, task, examples, arrays, tokenizer, result):
  """Submission lines from a model's raw outputs on the dev features."""
  eids = np.array([e.eid for e in examples])
  if name == "cluener":
    outputs = {
      "eid": eids,
      "predictions": np.argmax(result, -1),
      "chars": arrays["cluener_chars"],
    }
  elif name == "similarity":
    # the exported value is on the label's own scale already
    values = (np.asarray(result, np.float64) - task.min_value) / task.max_value
    outputs = {"eid": eids, "predictions": values}
  else:
    outputs = {"eid": eids, "predictions": np.argmax(result, -1)}
  return task.submission_lines(examples, outputs, tokenizer)


def assert_same_lines(ours, theirs, name):
  if name == "similarity":
    np.testing.assert_allclose(
      [r["label"] for r in ours], [r["label"] for r in theirs], rtol=1e-5
    )
  else:
    assert ours == theirs, name
