"""The SavedModel's text-in signature on real CLUE data predicts what
run_finetuning.py predicted: TNEWS and AFQMC labels (and probabilities),
CLUENER entities, CMRC 2018 answers. A small odd-sized model is
fine-tuned on the four tasks at once; skipped without ../shared/data."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_ENCODER_HPARAMS
from helpers import entity_label
from helpers import trainer_outputs

import configure_finetuning
import export_savedmodel
from conftest import finetune_main
from conftest import shared_path
from finetune import qa_data

pytestmark = pytest.mark.slow
SHAPE = dict(DEMO_ENCODER_HPARAMS, vocab_size=21128)
TASKS = ["tnews", "afqmc", "cluener", "cmrc2018"]
HPARAMS = dict(
  SHAPE,
  task_names=TASKS,
  init_checkpoint=None,
  max_seq_length=64,
  doc_stride=32,
  max_query_length=24,
  train_batch_size=16,
  num_train_epochs=1.0,
  learning_rate=1e-3,
  max_examples={"train": 240, "dev": 150},
)


def link_data(root):
  """finetuning_data/<task>/{train,dev}.json from the shared copies
  (CLUENER and the CMRC trial file have one labelled file: dev reads it
  too)."""
  sources = {
    "tnews": ("clue", "tnews", "train.json", "dev.json"),
    "afqmc": ("clue", "afqmc", "train.json", "dev.json"),
    "cluener": ("ner", "cluener", "train.json", "train.json"),
    "cmrc2018": ("qa", "cmrc2018", "trial.json", "trial.json"),
  }
  for task, (group, name, train, dev) in sources.items():
    directory = root / "finetuning_data" / task
    directory.mkdir(parents=True)
    for split, file in (("train", train), ("dev", dev)):
      os.symlink(
        shared_path("data", group, name, file), directory / f"{split}.json"
      )
  os.symlink(
    shared_path("data", "vocab", "bert-base-chinese-vocab.txt"),
    root / "vocab.txt",
  )


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
  root = tmp_path_factory.mktemp("real")
  link_data(root)
  finetune_main(root, HPARAMS)
  results = root / "models" / "m" / "results"
  checkpoint = str(
    root / "models" / "m" / "finetuning_models" / f"{','.join(TASKS)}_model_1"
  )
  return root, results, checkpoint


@pytest.fixture(scope="module")
def served(finetuned, tmp_path_factory):
  """{task: the SavedModel's serving_default}."""
  root, _, checkpoint = finetuned
  out = tmp_path_factory.mktemp("exports")
  signatures = {}
  for task in TASKS:
    export_savedmodel.export_savedmodel(
      dict(SHAPE), checkpoint, str(out / task), str(root / "vocab.txt"),
      task=task,
    )  # fmt: skip
    signatures[task] = tf.saved_model.load(str(out / task)).signatures[
      "serving_default"
    ]
  return signatures


def predictions(results, task):
  with open(results / f"{task}_dev_predictions.json", encoding="utf-8") as f:
    return [json.loads(line) for line in f.read().split("\n") if line]


def test_classification_labels_and_probabilities(finetuned, served):
  root, results, checkpoint = finetuned
  config = configure_finetuning.FinetuningConfig(
    "m", str(root), **dict(HPARAMS, task_names=["tnews", "afqmc"])
  )
  for name, (task, examples, _, _, logits) in trainer_outputs(
    config, checkpoint
  ).items():
    inputs = {"text": tf.constant([e.text_a for e in examples])}
    if task.pair:
      inputs["text_b"] = tf.constant([e.text_b for e in examples])
    outputs = served[name](**inputs)
    labels = [label.decode() for label in outputs["label"].numpy()]
    expected = [line["label"] for line in predictions(results, name)]
    assert labels == expected, name
    probabilities = outputs["probabilities"].numpy()
    np.testing.assert_allclose(
      probabilities, tf.nn.softmax(logits).numpy(), atol=1e-5
    )
    # the texts get different outputs: the comparison can fail
    assert np.ptp(probabilities, axis=0).max() > 1e-3, name


def test_cluener_entities(finetuned, served):
  _, results, _ = finetuned
  expected = predictions(results, "cluener")
  texts = []
  with open(
    shared_path("data", "ner", "cluener", "train.json"), encoding="utf-8"
  ) as f:
    for line in f.read().split("\n")[: len(expected)]:
      texts.append(json.loads(line)["text"])
  outputs = {
    k: v.numpy() for k, v in served["cluener"](text=tf.constant(texts)).items()
  }
  got = [entity_label(outputs, row) for row in range(len(expected))]
  assert got == [line["label"] for line in expected]
  found = sum(
    len(positions)
    for label in got
    for entities in label.values()
    for positions in entities.values()
  )
  assert found > 10


def test_cmrc2018_answers(finetuned, served):
  _, results, _ = finetuned
  with open(results / "cmrc2018_dev_predictions.json", encoding="utf-8") as f:
    expected = json.load(f)
  questions = qa_data.read_squad(
    shared_path("data", "qa", "cmrc2018", "trial.json"), "cmrc2018", False
  )[:150]
  outputs = served["cmrc2018"](
    question=tf.constant([q.question for q in questions]),
    context=tf.constant([q.context for q in questions]),
  )
  answers = [a.decode() for a in outputs["answer"].numpy()]
  assert answers == [expected[q.qid] for q in questions]
  assert len(set(answers)) > 10
