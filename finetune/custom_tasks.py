"""Your own classification or regression task, described in hparams.

  "task_names": ["my_reviews"],
  "custom_tasks": {"my_reviews": {
      "type": "classification",     # or "regression" (or "tagging", see
                                    # finetune/tagging.py)
      "format": "tsv",              # jsonl (default), tsv or csv (with header)
      "data_dir": "/path/to/dir",   # default: <data-dir>/finetuning_data/<task>
      "text_a": "review",           # field of the (first) text
      "text_b": null,               # field of the second text, if a pair
      "label": "stars",             # field of the label (a number: regression)
      "labels": ["1", "2", "3"],    # classification: or "infer" (sorted
                                    # labels of train)
      "metric": "accuracy",         # classification: or "mcc"
      "min_value": 0, "max_value": 5,  # regression: the label's range
                                    # (default: the range of train)
      "id": "id",                   # optional field for submission ids
      "symmetric": false}}          # train on both pair orders
Files are <data_dir>/{train,dev,test}.<format> (".json" for jsonl).
"""

import os

from finetune import classification
from finetune import readers
from finetune import regression

COMMON_KEYS = {"format", "data_dir", "text_a", "text_b", "label", "id"}
SPEC_KEYS = {
  "classification": COMMON_KEYS | {"labels", "metric", "symmetric"},
  "regression": COMMON_KEYS | {"min_value", "max_value", "symmetric"},
}
REQUIRED = {"classification": ("text_a", "label", "labels"), "regression": ()}
METRICS = ("accuracy", "mcc")


def check_spec(name, spec, kind):
  """Unknown or missing keys are errors naming the task and the key."""
  unknown = set(spec) - SPEC_KEYS[kind]
  if unknown:
    raise ValueError(
      f"custom_tasks.{name} has unknown keys {sorted(unknown)}; expected "
      f"some of {sorted(SPEC_KEYS[kind])}"
    )
  for key in ("text_a", "label") + REQUIRED[kind]:
    if key not in spec:
      raise ValueError(f"custom_tasks.{name} needs {key!r}")
  if spec.get("metric", "accuracy") not in METRICS:
    raise ValueError(
      f"custom_tasks.{name}: metric {spec['metric']!r} is not one of {METRICS}"
    )


class SpecFields:
  """Where a spec-described task finds its files, texts and labels."""

  def read_spec(self, config, name, spec):
    self.spec = spec
    self.file_format = spec.get("format", "jsonl")
    self.file_suffix = (
      ".json" if self.file_format == "jsonl" else ("." + self.file_format)
    )
    self.symmetric = bool(spec.get("symmetric", False))
    self.pair = bool(spec.get("text_b"))
    self.id_field = spec.get("id", "id")
    self.submission_file = f"{name}_predict.json"
    self.data_dir = spec.get("data_dir") or os.path.join(
      config.raw_data_dir, name
    )

  def split_path(self, split):
    return os.path.join(self.data_dir, split + self.file_suffix)

  def train_labels(self):
    path = self.split_path("train")
    return [
      str(readers.field(row, self.spec["label"], path, line))
      for line, row in readers.read_rows(path, self.file_format)
    ]

  def texts(self, row, path, line):
    text_b = self.spec.get("text_b")
    return (
      readers.field(row, self.spec["text_a"], path, line),
      readers.field(row, text_b, path, line) if text_b else None,
    )

  def label_of(self, row, path, line):
    return str(readers.field(row, self.spec["label"], path, line))


class CustomClassificationTask(SpecFields, classification.ClassificationTask):
  """A classification task built from a spec dict (see module docstring)."""

  def __init__(self, config, name, spec):
    check_spec(name, spec, "classification")
    self.read_spec(config, name, spec)
    self.metric = spec.get("metric", "accuracy")
    labels = spec["labels"]
    if labels == "infer":
      labels = sorted(set(self.train_labels()))
    super().__init__(config, name, labels)


class CustomRegressionTask(SpecFields, regression.RegressionTask):
  """A regression task built from a spec dict (see module docstring)."""

  def __init__(self, config, name, spec):
    check_spec(name, spec, "regression")
    self.read_spec(config, name, spec)
    low, high = spec.get("min_value"), spec.get("max_value")
    if low is None or high is None:
      values = [float(v) for v in self.train_labels()]
      low = min(values) if low is None else low
      high = max(values) if high is None else high
    super().__init__(config, name, low, high)
