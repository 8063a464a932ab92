"""Exports a fine-tuned classifier as a LiteRT model with the tokenizer inside.

Usage:
  python export_litert.py --checkpoint CK --task tnews --output tnews.tflite \
      [--quantize none|dynamic|int8] [--data-dir D] [--max-metric-drop 1.0] \
      [--hparams ... --vocab-file V --max-seq-length N]
The ``.tflite`` file's signature ``serving_default`` takes ``text`` (and
``text_b`` for pairs) as [batch] UTF-8 strings and returns
``probabilities`` [batch, labels] (regression: ``score`` [batch]); the
labels, in output order, are in OUT.json beside it (see serving.json of
export_savedmodel.py). It tokenizes as training did, with
tensorflow-text's kernels: run it with `tf.lite`'s or ai-edge-litert's
``InterpreterWithCustomOps`` given
``tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`` (docs/checkpoints.md).

--quantize dynamic stores the weights as int8 (activations float);
--quantize int8 also computes in int8, calibrated on the task's training
texts (--data-dir laid out as for run_finetuning.py). With --data-dir, the
export scores the dev set with the float32 model and the quantized one and
writes nothing when the quantized one is more than --max-metric-drop
points worse. Classification and regression (single texts and pairs) are
exported; tagging, QA and multiple choice serve from export_savedmodel.py.
"""

import argparse
import json
import os

import numpy as np

import configure_finetuning
import convert_checkpoint
import export_savedmodel
from finetune import task_builder
from interop import litert_serving
from interop import model_record
from model import litert_tokenizer
from util import cli
from util import logs

CALIBRATION_TEXTS = 200  # training requests int8 calibrates on
SCORE_BATCH = 64


class MetricDropError(ValueError):
  """The quantized model scores too far below the float32 one."""


def build_lite_module(hparams, checkpoint, vocab_file, max_seq_length, task):
  """The task's `LiteClassifier`, loaded, and its export description."""
  module, report = export_savedmodel.build_module(
    hparams, checkpoint, vocab_file, max_seq_length, task
  )
  serving = module.serving
  if serving is None or serving.tokenizer is None:
    raise ValueError(
      f"--checkpoint {checkpoint}: a fine-tuned task head and a vocabulary "
      f"(--vocab-file) are needed for a text-in LiteRT model"
    )
  basic = serving.tokenizer.basic
  tokenizer = litert_tokenizer.LiteTokenizer(
    serving.tokenizer.vocab, basic.do_lower_case, basic.strip_accents
  )
  lite = litert_serving.LiteClassifier(
    module.model, serving.encode, serving.head, serving.spec, tokenizer,
    serving.max_seq_length,
  )  # fmt: skip
  return lite, module.task, report


def task_hparams(hparams, checkpoint):
  """The hparams that define the checkpoint's tasks (custom_tasks, ...):
  recorded beside it, then ``hparams``'."""
  recorded = model_record.recorded_task_hparams(checkpoint)
  return {
    k: source[k]
    for source in (recorded, hparams)
    for k in convert_checkpoint.TASK_HPARAMS
    if k in source
  }


def task_examples(task_name, data_dir, vocab_file, split, hparams=None):
  """(requests, labels) of one split of the task's data under
  ``data_dir`` (run_finetuning.py's layout); ``hparams``: `task_hparams`."""
  config = configure_finetuning.FinetuningConfig(
    "export", data_dir, task_names=[task_name], vocab_file=vocab_file,
    **(hparams or {}),
  )  # fmt: skip
  task = task_builder.get_task(config, task_name)
  examples = task.get_examples(split)
  requests = [
    (e.text_a,) if e.text_b is None else (e.text_a, e.text_b) for e in examples
  ]
  return requests, [e.label for e in examples]


def predictions(runner, names, requests):
  """The model's outputs on every request, batched: [examples, ...]."""
  outputs = []
  for start in range(0, len(requests), SCORE_BATCH):
    batch = requests[start : start + SCORE_BATCH]
    result = runner(**{n: [r[i] for r in batch] for i, n in enumerate(names)})
    outputs.append(result.get("probabilities", result.get("score")))
  return np.concatenate(outputs)


def dev_metric(spec, outputs, labels):
  """Accuracy (classification) or Pearson correlation (regression), in
  points (x 100)."""
  if spec.kind == "regression":
    return 100.0 * float(np.corrcoef(outputs, np.asarray(labels, float))[0, 1])
  label_ids = [spec.labels.index(str(label)) for label in labels]
  return 100.0 * float(np.mean(np.argmax(outputs, -1) == label_ids))


def export_litert(
  hparams, checkpoint, output, vocab_file=None, max_seq_length=None,
  task=None, quantize="none", data_dir=None, max_metric_drop=1.0,
):  # fmt: skip
  """Builds, converts, checks and writes the model; returns OUT.json's
  contents."""
  description_path = os.path.splitext(output)[0] + ".json"
  for path in (output, description_path):
    if os.path.exists(path):
      raise FileExistsError(f"--output: {path} exists")
  if quantize == "int8" and not data_dir:
    raise ValueError(
      "--quantize int8 calibrates on the task's training texts: pass --data-dir"
    )
  lite, task, report = build_lite_module(
    hparams, checkpoint, vocab_file, max_seq_length, task
  )
  logs.log(report.summary())
  vocab_file = vocab_file or hparams.get("vocab_file")
  defined = task_hparams(hparams, checkpoint)
  calibration = None
  if quantize == "int8":
    calibration, _ = task_examples(task, data_dir, vocab_file, "train", defined)
    calibration = calibration[:CALIBRATION_TEXTS]
  float_model = litert_serving.convert(lite, "none")
  model = (
    float_model
    if quantize == "none"
    else litert_serving.convert(lite, quantize, calibration)
  )
  description = {
    "task": task,
    "type": lite.spec.kind,
    "labels": list(lite.spec.labels),
    "inputs": lite.text_inputs(),
    "outputs": ["score" if lite.spec.kind == "regression" else "probabilities"],
    "max_seq_length": lite.max_seq_length,
    "quantize": quantize,
    "bytes": len(model),
    "float32_bytes": len(float_model),
  }
  if data_dir:
    requests, labels = task_examples(task, data_dir, vocab_file, "dev", defined)
    names = lite.text_inputs()
    scores = {
      kind: dev_metric(
        lite.spec,
        predictions(litert_serving.LiteRunner(m), names, requests),
        labels,
      )
      for kind, m in (("float32", float_model), (quantize, model))
    }
    description["dev_metric"] = scores
    logs.log(
      "dev "
      + ("Pearson" if lite.spec.kind == "regression" else "accuracy")
      + ": "
      + ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
    )
    drop = scores["float32"] - scores[quantize]
    if drop > max_metric_drop:
      raise MetricDropError(
        f"--quantize {quantize} loses {drop:.2f} points on {task}'s dev set "
        f"(float32 {scores['float32']:.2f}, {quantize} {scores[quantize]:.2f})"
        f", more than --max-metric-drop {max_metric_drop}; nothing written"
      )
  elif quantize != "none":
    logs.log(
      f"the {quantize} model's accuracy was not checked (pass --data-dir to "
      f"score it against float32 on the dev set)"
    )
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, "wb") as f:
    f.write(model)
  with open(description_path, "w", encoding="utf-8") as f:
    json.dump(description, f, indent=2, ensure_ascii=False)
  logs.log(f"Wrote {output} ({len(model):,} bytes) and {description_path}")
  return description


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", required=True)
  cli.add_hparams_flag(
    parser, "Hparams that describe the model's shape, when not recorded."
  )
  parser.add_argument("--output", required=True, help="OUT.tflite")
  parser.add_argument("--vocab-file", default=None)
  parser.add_argument("--max-seq-length", type=int, default=None)
  parser.add_argument("--task", default=None)
  parser.add_argument(
    "--quantize", default="none", choices=litert_serving.QUANTIZATIONS
  )
  parser.add_argument(
    "--data-dir",
    default=None,
    help="<dir>/finetuning_data/<task>/{train,dev}: int8 calibration and the "
    "dev check of a quantized model.",
  )
  parser.add_argument("--max-metric-drop", type=float, default=1.0)
  args = parser.parse_args(argv)
  return export_litert(
    cli.merged_hparams(args),
    args.checkpoint,
    args.output,
    args.vocab_file,
    args.max_seq_length,
    args.task,
    args.quantize,
    args.data_dir,
    args.max_metric_drop,
  )


if __name__ == "__main__":
  cli.run(main)
