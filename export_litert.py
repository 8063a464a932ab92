"""Exports a fine-tuned task as a LiteRT model with the tokenizer inside.

Usage:
  python export_litert.py --checkpoint CK --task tnews --output tnews.tflite \
      [--quantize none|dynamic|int8] [--data-dir D] [--max-metric-drop 1.0] \
      [--hparams ... --vocab-file V --max-seq-length N]
The ``.tflite`` file's signature ``serving_default`` takes ``text`` (and
``text_b`` for pairs) as [batch] UTF-8 strings and returns
``probabilities`` [batch, labels] (regression: ``score`` [batch];
tagging: ``tags`` [batch, characters], the tag index of every character);
the labels (tags), in output order, are in OUT.json beside it (see
serving.json of export_savedmodel.py). It tokenizes as training did, with
tensorflow-text's kernels: run it with `tf.lite`'s or ai-edge-litert's
``InterpreterWithCustomOps`` given
``tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`` (docs/checkpoints.md).

--quantize dynamic stores the weights as int8 (activations float);
--quantize int8 also computes in int8, calibrated on the task's training
texts (--data-dir laid out as for run_finetuning.py). With --data-dir, the
export scores the dev set with the float32 model and the quantized one and
writes nothing when the quantized one is more than --max-metric-drop
points worse (accuracy, Pearson x 100, entity F1). Classification,
regression (single texts and pairs) and tagging are exported; QA and
multiple choice serve from export_savedmodel.py.
"""

import argparse
import json
import os

import numpy as np

import configure_finetuning
import convert_checkpoint
import export_savedmodel
from finetune import tagging
from finetune import task_builder
from interop import litert_serving
from interop import model_record
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
  lite = litert_serving.lite_module(
    module.model, serving.encode, serving.head, serving.spec,
    serving.tokenizer.vocab, basic.do_lower_case, basic.strip_accents,
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


# what each kind of task's LiteRT model returns
OUTPUTS = {
  "classification": "probabilities",
  "regression": "score",
  "tagging": "tags",
}
METRICS = {
  "classification": "accuracy",
  "regression": "Pearson",
  "tagging": "entity F1",
}


def predictions(runner, kind, names, requests):
  """The model's output for every request (batched), one per request (a
  tagging row cut to its text's characters)."""
  outputs = []
  for start in range(0, len(requests), SCORE_BATCH):
    batch = requests[start : start + SCORE_BATCH]
    result = runner(**{n: [r[i] for r in batch] for i, n in enumerate(names)})
    rows = result[OUTPUTS[kind]]
    if kind == "tagging":
      rows = [row[: len(r[0])] for row, r in zip(rows, batch)]
    outputs.extend(rows)
  return outputs


def dev_metric(spec, outputs, labels):
  """Accuracy (classification), Pearson correlation (regression) or entity
  F1 (tagging), in points (x 100 for the correlation)."""
  if spec.kind == "regression":
    return 100.0 * float(np.corrcoef(outputs, np.asarray(labels, float))[0, 1])
  if spec.kind == "tagging":
    predicted = [
      set(tagging.tags_to_spans([spec.labels[i] for i in row]))
      for row in outputs
    ]
    gold = [set(tagging.tags_to_spans(tags)) for tags in labels]
    return tagging.entity_metrics(gold, predicted)["f1"]
  label_ids = [spec.labels.index(str(label)) for label in labels]
  return 100.0 * float(np.mean(np.argmax(outputs, -1) == label_ids))


def check_on_dev(lite, models, requests, labels, max_metric_drop):
  """{"float32": metric, quantization: metric} of the models on the dev
  set, printed; a `MetricDropError` when the quantized one is more than
  ``max_metric_drop`` points below float32."""
  names = lite.text_inputs()
  scores = {
    kind: dev_metric(
      lite.spec,
      predictions(
        litert_serving.LiteRunner(m), lite.spec.kind, names, requests
      ),
      labels,
    )
    for kind, m in models.items()
  }
  logs.log(
    f"dev {METRICS[lite.spec.kind]}: "
    + ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
  )
  quantized = [kind for kind in scores if kind != "float32"]
  if not quantized:
    return scores
  quantized = quantized[0]
  drop = scores["float32"] - scores[quantized]
  if drop > max_metric_drop:
    raise MetricDropError(
      f"--quantize {quantized} loses {drop:.2f} points on {lite.spec.kind} "
      f"dev data (float32 {scores['float32']:.2f}, {quantized} "
      f"{scores[quantized]:.2f}), more than --max-metric-drop "
      f"{max_metric_drop}; nothing written"
    )
  return scores


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
  models = {"float32": litert_serving.convert(lite, "none")}
  if quantize != "none":
    models[quantize] = litert_serving.convert(lite, quantize, calibration)
  model = models[quantize if quantize != "none" else "float32"]
  description = {
    "task": task,
    "type": lite.spec.kind,
    "labels": list(lite.spec.labels),
    "inputs": lite.text_inputs(),
    "outputs": [OUTPUTS[lite.spec.kind]],
    "max_seq_length": lite.max_seq_length,
    "quantize": quantize,
    "bytes": len(model),
    "float32_bytes": len(models["float32"]),
  }
  if data_dir:
    requests, labels = task_examples(task, data_dir, vocab_file, "dev", defined)
    description["dev_metric"] = check_on_dev(
      lite, models, requests, labels, max_metric_drop
    )
  elif quantize != "none":
    logs.log(
      f"the {quantize} model's accuracy was not checked (pass --data-dir to "
      f"score it against float32 on the dev set)"
    )
  write(output, description_path, model, description)
  return description


def write(output, description_path, model, description):
  """The .tflite file and its OUT.json."""
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, "wb") as f:
    f.write(model)
  with open(description_path, "w", encoding="utf-8") as f:
    json.dump(description, f, indent=2, ensure_ascii=False)
  logs.log(f"Wrote {output} ({len(model):,} bytes) and {description_path}")


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
