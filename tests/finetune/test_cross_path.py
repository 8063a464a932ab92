"""Every path to a fine-tuned model's predictions agrees, for every task type.

One small odd-sized model is fine-tuned on five tasks at once (single-text
classification, pairs, regression, CLUENER tagging, CMRC 2018 QA); its dev
predictions from the trainer must equal those of a predict-only run, of
the SavedModel's signatures (and of the transformers export:
test_cross_path_transformers.py), and the dev metrics must equal what
``score_predictions.py`` computes on the written predictions.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from cross_path_setup import HPARAMS
from cross_path_setup import SHAPE
from cross_path_setup import TASKS
from cross_path_setup import assert_same_lines
from cross_path_setup import assert_same_logits
from cross_path_setup import checkpoint_dir
from cross_path_setup import decode
from cross_path_setup import dev_features  # noqa: F401 (a fixture)
from cross_path_setup import finetuned  # noqa: F401 (a fixture)
from cross_path_setup import read_predictions
from helpers import entity_label

import export_savedmodel
import score_predictions
from conftest import finetune_main

pytestmark = pytest.mark.slow


def test_predictions_vary(finetuned):
  """The model is not a constant: the comparisons below can fail."""
  _, _, files = finetuned
  assert len({r["label"] for r in read_predictions(files["single"])}) > 1
  entities = [r["label"] for r in read_predictions(files["cluener"])]
  assert sum(bool(e) for e in entities) > 3


def test_predict_only_run_writes_the_same_predictions(finetuned):
  root, results, files = finetuned
  again = finetune_main(
    root,
    dict(HPARAMS, do_train=False, init_checkpoint=checkpoint_dir(root)),
    model_name="again",
  )[0]
  for task in TASKS:
    path = files[task].replace("/m/results", "/again/results")
    assert read_predictions(path) == read_predictions(files[task]), task
    assert again[task] == pytest.approx(results[task], abs=1e-6), task


@pytest.mark.parametrize("task", TASKS)
def test_dev_metrics_equal_score_predictions(finetuned, task):
  root, results, files = finetuned
  gold = str(root / "finetuning_data" / task / "dev.json")
  # inferred labels and ranges are read from the train file
  custom = {
    name: dict(spec, data_dir=str(root / "finetuning_data" / name))
    for name, spec in HPARAMS["custom_tasks"].items()
  }
  scored = score_predictions.score(
    task, gold, files[task], {"custom_tasks": custom}
  )
  for metric, value in results[task].items():
    if metric not in ("loss", "truncated"):  # what only the trainer knows
      assert scored[metric] == pytest.approx(value, rel=1e-9, abs=1e-9), metric


def test_written_label_order_is_the_submission_label_list(finetuned):
  root, _, _ = finetuned
  with open(os.path.join(checkpoint_dir(root), "tasks.json")) as f:
    described = json.load(f)
  assert described["single"]["labels"] == ["a", "b", "c"]
  assert described["pairs"]["labels"] == ["0", "1"]
  assert described["cluener"]["labels"][:3] == ["O", "B-address", "I-address"]
  assert described["cluener"]["segment_id"] == 1
  assert described["similarity"]["kind"] == "regression"
  qa = described["cmrc2018"]
  assert qa["kind"] == "qa" and qa["qa"]["doc_stride"] == 16


@pytest.fixture(scope="module")
def saved_models(finetuned, tmp_path_factory):
  """{task: SavedModel directory} of each dense task (export --task T)."""
  root, _, _ = finetuned
  out = tmp_path_factory.mktemp("sm")
  for task in TASKS[:4]:
    export_savedmodel.export_savedmodel(
      dict(SHAPE), checkpoint_dir(root), str(out / task),
      str(root / "vocab.txt"), task=task,
    )  # fmt: skip
  return {task: str(out / task) for task in TASKS[:4]}


def test_savedmodel_ids_signatures_give_the_trainer_predictions(
  finetuned, dev_features, saved_models
):
  _, _, files = finetuned
  for name, ours in dev_features.items():
    task, examples, arrays, tokenizer, _ = ours
    loaded = tf.saved_model.load(saved_models[name])
    ids = {
      k: tf.constant(arrays[k], tf.int32)
      for k in ("input_ids", "input_mask", "segment_ids")
    }
    if name == "cluener":
      # no segment ids in: the tagging signature sets the task's own
      del ids["segment_ids"]
      result = loaded.signatures["tag"](**ids)["logits"]
    elif name == "similarity":
      result = loaded.signatures["classify"](**ids)["score"]
    else:
      result = loaded.signatures["classify"](**ids)["logits"]
    assert_same_logits(name, ours, result.numpy(), arrays, 1e-5)
    lines = decode(name, task, examples, arrays, tokenizer, result.numpy())
    assert_same_lines(lines, read_predictions(files[name]), name)


def serve(directory, examples, pair):
  """``serving_default`` of a SavedModel on the examples' raw texts."""
  inputs = {"text": tf.constant([e.text_a for e in examples])}
  if pair:
    inputs["text_b"] = tf.constant([e.text_b for e in examples])
  loaded = tf.saved_model.load(directory)
  return {
    k: v.numpy()
    for k, v in loaded.signatures["serving_default"](**inputs).items()
  }


@pytest.mark.parametrize("name", TASKS[:4])
def test_text_signature_gives_the_trainer_predictions(
  finetuned, dev_features, saved_models, name
):
  _, _, files = finetuned
  task, examples, _, _, logits = dev_features[name]
  expected = read_predictions(files[name])
  outputs = serve(saved_models[name], examples, name in ("pairs", "similarity"))
  if name == "cluener":
    got = [entity_label(outputs, row) for row in range(len(examples))]
    assert got == [line["label"] for line in expected]
    assert any(got)
  elif name == "similarity":
    np.testing.assert_allclose(
      outputs["score"], [line["label"] for line in expected], rtol=1e-5
    )
  else:
    labels = [label.decode() for label in outputs["label"]]
    assert labels == [line["label"] for line in expected]
    np.testing.assert_allclose(
      outputs["probabilities"], tf.nn.softmax(logits).numpy(), atol=1e-5
    )


def test_qa_text_signature_gives_the_trainer_answers(finetuned, tmp_path):
  from finetune import qa_data

  root, _, files = finetuned
  out = str(tmp_path / "qa")
  export_savedmodel.export_savedmodel(
    dict(SHAPE), checkpoint_dir(root), out, str(root / "vocab.txt"),
    task="cmrc2018",
  )  # fmt: skip
  questions = qa_data.read_squad(
    str(root / "finetuning_data" / "cmrc2018" / "dev.json"), "cmrc2018", False
  )
  loaded = tf.saved_model.load(out)
  outputs = loaded.signatures["serving_default"](
    question=tf.constant([q.question for q in questions]),
    context=tf.constant([q.context for q in questions]),
  )
  with open(files["cmrc2018"], encoding="utf-8") as f:
    expected = json.load(f)
  answers = [a.decode() for a in outputs["answer"].numpy()]
  assert answers == [expected[q.qid] for q in questions]
  assert sum(bool(a) for a in answers) > 3  # the comparison can fail
  for q, answer, start in zip(
    questions, answers, outputs["answer_start"].numpy()
  ):
    if answer:
      assert q.context[start : start + len(answer)] == answer


def test_serving_json_names_the_labels(saved_models):
  def serving(task):
    with open(os.path.join(saved_models[task], "serving.json")) as f:
      return json.load(f)

  single = serving("single")
  assert (single["task"], single["type"]) == ("single", "classification")
  assert single["labels"] == ["a", "b", "c"]
  assert sorted(single["signatures"]["serving_default"]["inputs"]) == ["text"]
  pairs = serving("pairs")["signatures"]["serving_default"]["inputs"]
  assert sorted(pairs) == ["text", "text_b"]
  tagger = serving("cluener")
  assert tagger["type"] == "tagging" and tagger["max_seq_length"] == 40
  tag = tagger["signatures"]["tag"]
  assert sorted(tag["inputs"]) == ["input_ids", "input_mask"]
  assert tag["outputs"]["logits"]["shape"] == [None, None, 41]
  score = serving("similarity")["signatures"]["classify"]["outputs"]["score"]
  assert score["shape"] == [None]


def test_export_of_several_heads_needs_a_task(finetuned, tmp_path):
  root, _, _ = finetuned
  with pytest.raises(ValueError, match="several tasks.*cluener.*--task"):
    export_savedmodel.export_savedmodel(
      dict(SHAPE), checkpoint_dir(root), str(tmp_path / "a")
    )
  with pytest.raises(ValueError, match="'nope' is not a task head.*single"):
    export_savedmodel.export_savedmodel(
      dict(SHAPE), checkpoint_dir(root), str(tmp_path / "b"), task="nope"
    )
  assert not os.path.exists(tmp_path / "a") and not os.path.exists(
    tmp_path / "b"
  )
