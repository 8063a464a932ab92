"""Every path to a fine-tuned model's predictions agrees, for every task type.

One small odd-sized model is fine-tuned on five tasks at once (single-text
classification, pairs, regression, CLUENER tagging, CMRC 2018 QA); its dev
predictions from the trainer must equal those of a predict-only run, of
the SavedModel's signatures and (where transformers is installed) of the
transformers export called as its users call it, and the dev metrics must
equal what ``score_predictions.py`` computes on the written predictions.
"""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from helpers import trainer_outputs
from helpers import write_cluener

import export_savedmodel
import score_predictions
from conftest import ROOT
from conftest import TINY_HPARAMS
from conftest import finetune_main
from finetune import head_specs

pytestmark = pytest.mark.slow
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
    if metric != "loss":
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


def entity_label(outputs, row):
  """One row of the tagging signature in CLUENER's submission format."""
  label = {}
  for kind, text, start, end in zip(
    outputs["entity_type"][row], outputs["entity_text"][row],
    outputs["entity_start"][row], outputs["entity_end"][row],
  ):  # fmt: skip
    if start >= 0:
      spans = label.setdefault(kind.decode(), {})
      spans.setdefault(text.decode(), []).append([int(start), int(end)])
  return label


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


def test_a_qa_head_is_an_error_pointing_to_the_savedmodel(finetuned, tmp_path):
  import convert_checkpoint

  root, _, _ = finetuned
  for task in (None, "cmrc2018"):
    with pytest.raises(ValueError, match="cmrc2018: transformers has no cl.*"
                       "export_savedmodel.py --task cmrc2018"):  # fmt: skip
      convert_checkpoint.convert(
        checkpoint_dir(root), str(tmp_path / "hf"), "hf", dict(SHAPE),
        task=task,
      )  # fmt: skip
  assert not os.path.exists(tmp_path / "hf")


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


@pytest.fixture(scope="module")
def hf_export(finetuned, tmp_path_factory):
  import convert_checkpoint

  root, _, _ = finetuned
  out = str(tmp_path_factory.mktemp("hf") / "export")
  for task in TASKS[:4]:
    convert_checkpoint.convert(
      checkpoint_dir(root), os.path.join(out, task), "hf", dict(SHAPE),
      str(root / "vocab.txt"), task,
    )  # fmt: skip
  return {task: os.path.join(out, task, task) for task in TASKS[:4]}


def test_transformers_export_with_default_inputs(
  finetuned, dev_features, hf_export
):
  torch = pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed"
  )
  _, _, files = finetuned
  for name, ours in dev_features.items():
    task, examples, arrays, tokenizer, _ = ours
    directory = hf_export[name]
    kind = head_specs.read_descriptions(checkpoint_dir(finetuned[0]))[name]
    inputs = {
      "input_ids": torch.tensor(arrays["input_ids"]),
      "attention_mask": torch.tensor(arrays["input_mask"]),
    }
    if kind.segment_id is None:  # pairs need their segments, as tokenizers
      inputs["token_type_ids"] = torch.tensor(arrays["segment_ids"])
    cls = (
      transformers.AutoModelForTokenClassification
      if name == "cluener"
      else transformers.AutoModelForSequenceClassification
    )
    with torch.no_grad():
      logits = cls.from_pretrained(directory).eval()(**inputs).logits.numpy()
    result = logits[:, 0] if name == "similarity" else logits
    assert_same_logits(name, ours, result, arrays, 1e-4)
    lines = decode(name, task, examples, arrays, tokenizer, result)
    assert_same_lines(lines, read_predictions(files[name]), name)


def test_transformers_tokenizer_and_pipeline_tag_as_the_trainer(
  finetuned, dev_features, hf_export
):
  pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed"
  )
  _, _, files = finetuned
  task, examples, arrays, tokenizer, _ = dev_features["cluener"]
  directory = hf_export["cluener"]
  tagger = transformers.pipeline("token-classification", model=directory)
  ours = {r["id"]: r["label"] for r in read_predictions(files["cluener"])}
  compared = 0
  for example in examples:
    encoded = tagger.tokenizer(example.text_a)["input_ids"]
    if len(encoded) != len(example.text_a) + 2:
      continue  # a run of Latin letters or digits is one token there
    tags = ["O"] * len(example.text_a)
    for entity in tagger(example.text_a):
      tags[entity["start"]] = entity["entity"]
    spans = task.submission_lines(
      [example],
      {
        "eid": np.array([example.eid]),
        "predictions": np.array([[0] + [task.tag_ids[t] for t in tags]]),
        "chars": np.array([[-1] + list(range(len(tags)))]),
      },
      tokenizer,
    )[0]["label"]
    assert spans == ours[example.guid]
    compared += 1
  assert compared >= len(examples) // 2
