"""Serving a fine-tuned model from raw text: the SavedModel loads in a
fresh process that has only tensorflow and tensorflow_text, and answers
bad input instead of crashing, with offsets into the caller's strings.
(Equality with the trainer: tests/finetune/test_cross_path.py.)"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_ENCODER_HPARAMS
from helpers import DEMO_VOCAB
from helpers import randomize

import configure_finetuning
import export_savedmodel
from conftest import ROOT
from finetune import finetuning_model
from finetune import head_specs
from finetune import task_builder
from interop import checkpoints

pytestmark = pytest.mark.slow  # a model exported four times
SHAPE = DEMO_ENCODER_HPARAMS
TEXTS = [
  "我在北京大学读书，老师是张三。",
  "",
  "   \t ",
  "表情😀和🚀火箭，罕见字𠀀也在。",
  "全角ＡＢＣ　和空格 mixed Latin 42 字",
  "长文本" * 33_334,  # 100,002 characters
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """{task: SavedModel} of a random-weight model with CLUENER, AFQMC and
  CMRC 2018 heads (random weights tag many entities)."""
  root = tmp_path_factory.mktemp("serve")
  config = configure_finetuning.FinetuningConfig(
    "m", str(root), task_names=["cluener", "afqmc", "cmrc2018"],
    init_checkpoint=None, max_seq_length=32, max_query_length=8, doc_stride=16,
    vocab_file=DEMO_VOCAB, **SHAPE,
  )  # fmt: skip
  tasks = task_builder.get_tasks(config)
  model = finetuning_model.FinetuningModel(config, tasks)
  randomize(model.official_variables(), seed=4)
  directory = str(root / "finetuned")
  path = checkpoints.make_checkpoint(model.official_variables()).write(
    os.path.join(directory, "model.ckpt")
  )
  checkpoints.write_state_file(directory, os.path.basename(path))
  head_specs.write_descriptions(directory, tasks)
  out = {}
  for task in ("cluener", "afqmc", "cmrc2018"):
    out[task] = str(root / task)
    export_savedmodel.main(
      ["--checkpoint", directory, "--output", out[task], "--task", task,
       "--vocab-file", DEMO_VOCAB, "--hparams", json.dumps(SHAPE)]
    )  # fmt: skip
  for task in ("cluener", "afqmc"):
    out[f"{task}_compiled"] = str(root / f"{task}_compiled")
    export_savedmodel.main(
      ["--checkpoint", directory, "--output", out[f"{task}_compiled"],
       "--task", task, "--vocab-file", DEMO_VOCAB,
       "--hparams", json.dumps(SHAPE), "--compiled-lengths", "16", "8"]
    )  # fmt: skip
  out["afqmc_bfloat16"] = str(root / "afqmc_bfloat16")
  export_savedmodel.main(
    ["--checkpoint", directory, "--output", out["afqmc_bfloat16"],
     "--task", "afqmc", "--vocab-file", DEMO_VOCAB,
     "--hparams", json.dumps(SHAPE), "--mixed-precision", "mixed_bfloat16"]
  )  # fmt: skip
  return out


def serve(directory, **inputs):
  loaded = tf.saved_model.load(directory)
  outputs = loaded.signatures["serving_default"](
    **{k: tf.constant(v) for k, v in inputs.items()}
  )
  return {k: v.numpy().tolist() for k, v in outputs.items()}


def test_entities_index_the_callers_strings_whatever_the_input(exported):
  outputs = serve(exported["cluener"], text=TEXTS)
  found = 0
  for row, text in enumerate(TEXTS):
    for kind, entity, start, end in zip(
      outputs["entity_type"][row], outputs["entity_text"][row],
      outputs["entity_start"][row], outputs["entity_end"][row],
    ):  # fmt: skip
      if start < 0:
        assert (kind, entity, end) == (b"", b"", -1)
        continue
      found += 1
      assert entity.decode() == text[start : end + 1]
      assert kind.decode() in tagging_types()
      assert end < 30  # only what fits in max_seq_length is tagged
  assert found > 5
  # rows without characters have no entities
  assert all(s == -1 for s in outputs["entity_start"][1])
  assert all(s == -1 for s in outputs["entity_start"][2])


def tagging_types():
  from finetune import tagging

  return set(tagging.CLUENER_TYPES)


def test_pairs_answer_every_input(exported):
  outputs = serve(exported["afqmc"], text=TEXTS, text_b=TEXTS[::-1])
  assert [label.decode() for label in outputs["label"]] != []
  assert {label.decode() for label in outputs["label"]} <= {"0", "1"}
  for row in outputs["probabilities"]:
    assert sum(row) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_answers_index_the_callers_contexts_whatever_the_input(exported):
  questions = ["谁在读书？", "", "   ", "😀？", "ＡＢＣ是什么", "问题" * 100]
  contexts = TEXTS[:1] + ["", "北京", TEXTS[3], TEXTS[4], TEXTS[5]]
  outputs = serve(exported["cmrc2018"], question=questions, context=contexts)
  answered = 0
  for context, answer, start, score in zip(
    contexts, outputs["answer"], outputs["answer_start"], outputs["score"]
  ):
    answer = answer.decode()
    if start < 0:
      assert answer == "" and score == float("-inf")
      continue
    answered += 1
    assert answer and context[start : start + len(answer)] == answer
    assert len(answer) <= 30 * 2  # max_answer_length tokens
  assert answered >= 3
  assert outputs["answer_start"][1] == -1  # an empty context has no answer


def test_compiled_single_requests_answer_as_the_plain_export(exported):
  """One text at a time (each length compiled, or too long for it: plain)
  and as a batch (plain), every bad input included."""
  for task, inputs in [
    ("cluener", [{"text": [t]} for t in TEXTS] + [{"text": TEXTS}]),
    (
      "afqmc",
      [{"text": [a], "text_b": [b]} for a, b in zip(TEXTS, TEXTS[::-1])]
      + [{"text": TEXTS, "text_b": TEXTS}],
    ),
  ]:
    plain_model = tf.saved_model.load(exported[task])
    compiled_model = tf.saved_model.load(exported[f"{task}_compiled"])
    for request in inputs:
      request = {k: tf.constant(v) for k, v in request.items()}
      plain = plain_model.signatures["serving_default"](**request)
      compiled = compiled_model.signatures["serving_default"](**request)
      plain, compiled = (
        {k: v.numpy().tolist() for k, v in outputs.items()}
        for outputs in (plain, compiled)
      )
      assert sorted(plain) == sorted(compiled)
      for name, values in plain.items():
        if name in ("probabilities", "logits"):
          np.testing.assert_allclose(compiled[name], values, atol=1e-5)
        else:
          assert compiled[name] == values, (task, name)
  with open(os.path.join(exported["afqmc_compiled"], "serving.json")) as f:
    assert json.load(f)["compiled_lengths"] == [8, 16]


def test_a_fresh_process_with_only_tensorflow_serves_it(exported, tmp_path):
  """No project code on the path: a loader that refuses the project's
  modules, PYTHONPATH empty, the working directory outside the checkout."""
  script = f"""
import importlib.abc, json, sys
PROJECT = {sorted(p for p in os.listdir(ROOT) if not p.startswith("."))!r}
# the checkout's own directories go; a venv inside it (its site-packages)
# stays
sys.path = [p for p in sys.path
            if not p.startswith({ROOT!r}) or p.startswith(sys.prefix)]
class Refuse(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path, target=None):
    if name.split(".")[0] + ".py" in PROJECT or name.split(".")[0] in PROJECT:
      raise ImportError("project module " + name)
sys.meta_path.insert(0, Refuse())
import tensorflow as tf
import tensorflow_text  # registers the tokenizer's ops
tagger = tf.saved_model.load({exported["cluener"]!r})
pairs = tf.saved_model.load({exported["afqmc"]!r})
texts = tf.constant({TEXTS[:1] + TEXTS[3:5]!r})
tags = tagger.signatures["serving_default"](text=texts)
labels = pairs.signatures["serving_default"](text=texts, text_b=texts)
print(json.dumps({{"starts": tags["entity_start"].numpy().tolist(),
                  "labels": [l.decode() for l in labels["label"].numpy()]}}))
"""
  env = dict(os.environ, PYTHONPATH="")
  result = subprocess.run(
    [sys.executable, "-c", script], cwd=str(tmp_path), env=env,
    capture_output=True, text=True, timeout=300,
  )  # fmt: skip
  assert result.returncode == 0, result.stderr[-2000:]
  fresh = json.loads(result.stdout.strip().splitlines()[-1])
  texts = TEXTS[:1] + TEXTS[3:5]
  here_tags = serve(exported["cluener"], text=texts)
  here_labels = serve(exported["afqmc"], text=texts, text_b=texts)
  assert fresh["starts"] == here_tags["entity_start"]
  assert fresh["labels"] == [label.decode() for label in here_labels["label"]]


def test_serving_json_is_written_beside_the_model(exported):
  with open(os.path.join(exported["afqmc"], "serving.json")) as f:
    serving = json.load(f)
  assert serving["task"] == "afqmc" and serving["labels"] == ["0", "1"]
  outputs = serving["signatures"]["serving_default"]["outputs"]
  assert sorted(outputs) == ["label", "logits", "probabilities"]


def test_the_serving_benchmark_prints_its_figures(exported, tmp_path):
  data = tmp_path / "texts.txt"
  data.write_text("\n".join(TEXTS[:5]) + "\n", encoding="utf-8")
  out = subprocess.run(
    [sys.executable, os.path.join(ROOT, "benchmarks", "serve_throughput.py"),
     "--savedmodel", exported["cluener"], "--data", str(data),
     "--calls", "5"],
    check=True, capture_output=True, text=True, timeout=300,
  ).stdout  # fmt: skip
  figures = json.loads(out.strip().splitlines()[-1])
  assert figures["implementation"] == "savedmodel cluener (tagging)"
  assert figures["requests"] == 3  # blank lines are skipped
  assert 0 < figures["batch1_p50_ms"] <= figures["batch1_p99_ms"]
  assert figures["batch64_per_s"] > 0


def test_a_bfloat16_export_agrees_with_the_float32_one(exported, tmp_path):
  from benchmarks import export_agreement

  data = tmp_path / "pairs.tsv"
  texts = [TEXTS[0], TEXTS[3], TEXTS[4]]
  pairs = [f"{a}\t{b}" for a in texts for b in texts]
  data.write_text("\n".join(pairs) + "\n", encoding="utf-8")
  figures = export_agreement.compare(
    exported["afqmc"], exported["afqmc_bfloat16"], str(data)
  )
  assert figures["task"] == "afqmc" and figures["inputs"] == 9
  # bfloat16 keeps 8 bits of mantissa: probabilities move, but little
  assert 0 < figures["max_probability_difference"] < 0.05
  encoder = tf.saved_model.load(exported["afqmc_bfloat16"]).signatures[
    "encoder"
  ]
  ids = tf.constant([[2, 5, 3]])
  output = encoder(
    input_ids=ids, input_mask=tf.ones_like(ids), segment_ids=tf.zeros_like(ids)
  )
  assert output["sequence_output"].dtype == tf.float32
