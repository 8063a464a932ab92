"""The LiteRT export of a fine-tuned classifier predicts what the trainer
and the SavedModel predict, from raw text, bad input included; a quantized
export that scores too far below float32 writes nothing; the file runs in
a process with only tensorflow and tensorflow-text (and ai-edge-litert,
when installed)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from cross_path_setup import SHAPE
from cross_path_setup import checkpoint_dir
from cross_path_setup import finetuned  # noqa: F401 (a fixture)
from cross_path_setup import read_predictions

import export_litert
import export_savedmodel
from finetune import tagging
from interop import litert_serving

pytestmark = pytest.mark.slow
CLASSIFIERS = ["single", "pairs", "similarity"]
EXPORTED = CLASSIFIERS + ["cluener"]
BAD_INPUTS = [
  "",
  "   \t ",
  "表情😀和🚀火箭，罕见字𠀀也在。",
  "全角ＡＢＣ　和空格 mixed Latin 42 字",
  "零宽\u200b字符\u200d和\ufeff控制\x07字符",
  "长文本" * 33_334,  # 100,002 characters
]


def export(root, out_dir, task, quantize="none", **options):
  """export_litert.py for ``task``; returns the .tflite path."""
  path = os.path.join(out_dir, f"{task}_{quantize}.tflite")
  export_litert.export_litert(
    dict(SHAPE), checkpoint_dir(root), path, str(root / "vocab.txt"),
    task=task, quantize=quantize, **options,
  )  # fmt: skip
  return path


@pytest.fixture(scope="module")
def exports(finetuned, tmp_path_factory):
  """{task: (.tflite path, SavedModel's serving_default)}."""
  root = finetuned[0]
  out = tmp_path_factory.mktemp("litert")
  found = {}
  for task in EXPORTED:
    saved = str(out / f"{task}_savedmodel")
    export_savedmodel.export_savedmodel(
      dict(SHAPE), checkpoint_dir(root), saved, str(root / "vocab.txt"),
      task=task,
    )  # fmt: skip
    function = tf.saved_model.load(saved).signatures["serving_default"]
    found[task] = (export(root, str(out), task), function)
  return found


def dev_requests(root, task):
  checkpoint = checkpoint_dir(root)
  requests, _ = export_litert.task_examples(
    task, str(root), str(root / "vocab.txt"), "dev",
    export_litert.task_hparams({}, checkpoint),
  )  # fmt: skip
  return requests


def run_both(path, function, requests):
  """(LiteRT outputs, SavedModel outputs) on ``requests``."""
  names = ["text", "text_b"][: len(requests[0])]
  texts = {n: [r[i] for r in requests] for i, n in enumerate(names)}
  lite = litert_serving.LiteRunner(path)(**texts)
  saved = function(**{n: tf.constant(v) for n, v in texts.items()})
  return lite, {k: v.numpy() for k, v in saved.items()}


@pytest.mark.parametrize("task", CLASSIFIERS)
def test_dev_predictions_equal_the_trainer_and_the_savedmodel(
  finetuned, exports, task
):
  root, _, files = finetuned
  path, function = exports[task]
  lite, saved = run_both(path, function, dev_requests(root, task))
  trainer = [row["label"] for row in read_predictions(files[task])]
  if task == "similarity":
    np.testing.assert_allclose(lite["score"], saved["score"], rtol=1e-5)
    np.testing.assert_allclose(lite["score"], trainer, rtol=1e-5)
    return
  np.testing.assert_allclose(
    lite["probabilities"], saved["probabilities"], atol=1e-5
  )
  with open(os.path.splitext(path)[0] + ".json") as f:
    labels = json.load(f)["labels"]
  predicted = [labels[i] for i in np.argmax(lite["probabilities"], -1)]
  assert predicted == [str(label) for label in trainer]
  assert len(set(predicted)) > 1  # not a constant: the check can fail


@pytest.mark.parametrize("task", ["single", "pairs"])
def test_bad_inputs_are_answered_as_the_savedmodel_answers(exports, task):
  path, function = exports[task]
  requests = [(t,) if task == "single" else (t, t[::-1]) for t in BAD_INPUTS]
  lite, saved = run_both(path, function, requests)
  assert np.isfinite(lite["probabilities"]).all()
  np.testing.assert_allclose(
    lite["probabilities"], saved["probabilities"], atol=1e-5
  )


def savedmodel_entities(outputs):
  """Per row, the SavedModel's entities as a set of (start, end, type)."""
  return [
    {
      (int(s), int(e), t.decode())
      for s, e, t in zip(starts, ends, types)
      if s >= 0
    }
    for starts, ends, types in zip(
      outputs["entity_start"], outputs["entity_end"], outputs["entity_type"]
    )
  ]


def test_tagging_entities_equal_the_savedmodels(finetuned, exports):
  root = finetuned[0]
  path, function = exports["cluener"]
  with open(os.path.splitext(path)[0] + ".json") as f:
    tags = json.load(f)["labels"]
  texts = [r[0] for r in dev_requests(root, "cluener")] + BAD_INPUTS
  lite, saved = run_both(path, function, [(t,) for t in texts])
  assert lite["tags"].shape == (len(texts), max(len(t) for t in texts))
  entities = [
    set(tagging.tags_to_spans([tags[i] for i in row[: len(text)]]))
    for row, text in zip(lite["tags"], texts)
  ]
  assert entities == savedmodel_entities(saved)
  assert sum(map(len, entities)) > 3  # random weights tag many entities
  assert not lite["tags"][len(texts) - len(BAD_INPUTS) + 1].any()  # spaces


def test_quantized_exports_are_checked_on_dev(finetuned, tmp_path):
  root = finetuned[0]
  path = export(root, str(tmp_path), "single", "dynamic", data_dir=str(root))
  with open(os.path.splitext(path)[0] + ".json") as f:
    description = json.load(f)
  scores = description["dev_metric"]
  assert set(scores) == {"float32", "dynamic"}
  assert description["bytes"] < description["float32_bytes"]
  with pytest.raises(export_litert.MetricDropError, match="nothing written"):
    export(
      root, str(tmp_path / "refused"), "single", "int8", data_dir=str(root),
      max_metric_drop=-1000.0,
    )  # fmt: skip
  assert not os.path.exists(tmp_path / "refused")


def test_bad_requests_are_named(finetuned, exports, tmp_path):
  root = finetuned[0]
  with pytest.raises(ValueError, match="is qa .*export_savedmodel.py"):
    export(root, str(tmp_path), "cmrc2018")
  with pytest.raises(ValueError, match="int8 calibrates.*--data-dir"):
    export(root, str(tmp_path), "single", "int8")
  existing = exports["single"][0]
  before = os.path.getsize(existing)
  with pytest.raises(FileExistsError, match="exists"):
    export_litert.export_litert(
      dict(SHAPE), checkpoint_dir(root), existing, str(root / "vocab.txt"),
      task="single",
    )  # fmt: skip
  assert os.path.getsize(existing) == before
  assert not list(tmp_path.iterdir())


STANDALONE = """
import sys
import numpy as np
import tensorflow_text
from {module} import InterpreterWithCustomOps
interpreter = InterpreterWithCustomOps(
  model_path=sys.argv[1],
  custom_op_registerers=tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS)
classify = interpreter.get_signature_runner("serving_default")
out = classify(text=np.array(["我在北京大学读书。", ""], dtype=object))
print(out["probabilities"].shape)
"""


@pytest.mark.parametrize(
  "module",
  ["tensorflow.lite.python.interpreter", "ai_edge_litert.interpreter"],
)
def test_runs_with_only_the_interpreter_and_tensorflow_text(exports, module):
  if module.startswith("ai_edge"):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed")
  path = exports["single"][0]
  result = subprocess.run(
    [sys.executable, "-c", STANDALONE.format(module=module), path],
    capture_output=True, text=True, cwd="/", check=False,
  )  # fmt: skip
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().splitlines()[-1] == "(2, 3)"
