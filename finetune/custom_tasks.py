"""Your own classification task, described in hparams instead of code.

  "task_names": ["my_reviews"],
  "custom_tasks": {"my_reviews": {
      "format": "tsv",              # jsonl (default), tsv or csv (with header)
      "data_dir": "/path/to/dir",   # default: <data-dir>/finetuning_data/<task>
      "text_a": "review",           # field of the (first) text
      "text_b": null,               # field of the second text, if a pair
      "label": "stars",             # field of the label
      "labels": ["1", "2", "3"],    # or "infer" (the sorted labels of train)
      "id": "id",                   # optional field for submission ids
      "symmetric": false}}          # train on both pair orders
Files are <data_dir>/{train,dev,test}.<format> (".json" for jsonl).
"""

import os

from finetune import classification
from finetune import readers

SPEC_KEYS = {
  "format",
  "data_dir",
  "text_a",
  "text_b",
  "label",
  "labels",
  "id",
  "symmetric",
}


class CustomClassificationTask(classification.ClassificationTask):
  """A classification task built from a spec dict (see module docstring)."""

  def __init__(self, config, name, spec):
    unknown = set(spec) - SPEC_KEYS
    if unknown:
      raise ValueError(
        f"custom_tasks.{name} has unknown keys "
        f"{sorted(unknown)}; expected some of "
        f"{sorted(SPEC_KEYS)}"
      )
    for key in ("text_a", "label", "labels"):
      if key not in spec:
        raise ValueError(f"custom_tasks.{name} needs {key!r}")
    self.spec = spec
    self.file_format = spec.get("format", "jsonl")
    self.file_suffix = (
      ".json" if self.file_format == "jsonl" else ("." + self.file_format)
    )
    self.symmetric = bool(spec.get("symmetric", False))
    self.id_field = spec.get("id", "id")
    self.submission_file = f"{name}_predict.json"
    self.data_dir = spec.get("data_dir") or os.path.join(
      config.raw_data_dir, name
    )
    labels = spec["labels"]
    if labels == "infer":
      self.config = config  # needed by split_path before super().__init__
      labels = self._labels_of_train()
    super().__init__(config, name, labels)

  def split_path(self, split):
    return os.path.join(self.data_dir, split + self.file_suffix)

  def _labels_of_train(self):
    path = self.split_path("train")
    return sorted(
      {
        str(readers.field(row, self.spec["label"], path, line))
        for line, row in readers.read_rows(path, self.file_format)
      }
    )

  def texts(self, row, path, line):
    text_b = self.spec.get("text_b")
    return (
      readers.field(row, self.spec["text_a"], path, line),
      readers.field(row, text_b, path, line) if text_b else None,
    )

  def label_of(self, row, path, line):
    return str(readers.field(row, self.spec["label"], path, line))
