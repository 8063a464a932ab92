"""Regression on one or two texts (the official ``RegressionTask``).

The target is normalised as the official code does, ``(value - min) /
max`` (a range of [0, max] when min is 0, as in STS-B), a dense layer on
[CLS] predicts it, and the loss is the squared error. Dev metrics are
Pearson and Spearman correlation (in %) and the mean squared error.
"""

import numpy as np
import tensorflow as tf

from finetune import classification
from finetune import heads
from finetune import readers
from finetune import task


def _ranks(values):
  """Ranks from 1 with ties sharing their average rank."""
  values = np.asarray(values, np.float64)
  order = np.argsort(values, kind="mergesort")
  ranks = np.empty(len(values))
  ranks[order] = np.arange(1, len(values) + 1)
  for value in np.unique(values):
    tied = values == value
    ranks[tied] = ranks[tied].mean()
  return ranks


def _pearson(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if len(a) < 2 or a.std() == 0 or b.std() == 0:
    return 0.0  # undefined for constant inputs
  return float(np.corrcoef(a, b)[0, 1])


def regression_metrics(targets, predictions):
  """{"pearson", "spearman"} in %, and "mse", of two value lists."""
  targets = np.asarray(targets, np.float64)
  predictions = np.asarray(predictions, np.float64)
  return {
    "pearson": 100.0 * _pearson(targets, predictions),
    "spearman": 100.0 * _pearson(_ranks(targets), _ranks(predictions)),
    "mse": float(np.mean(np.square(targets - predictions))),
  }


class RegressionScorer(task.Scorer):
  """Pearson, Spearman and MSE on the label's own scale (as the written
  predictions and ``score_predictions.py``); the loss is the training
  loss, on the normalised scale."""

  def __init__(self, task_, examples):
    self.task = task_
    self.labels = {e.eid: float(e.label) for e in examples}
    self.targets, self.predictions, self.losses = [], [], []

  def update(self, outputs):
    for eid, prediction in zip(
      outputs["eid"].tolist(), outputs["predictions"].tolist()
    ):
      self.targets.append(self.labels[eid])
      self.predictions.append(self.task.value_of(prediction))
    self.losses.extend(outputs["loss"].tolist())

  def get_results(self):
    results = regression_metrics(self.targets, self.predictions)
    results["loss"] = float(np.mean(self.losses)) if self.losses else 0.0
    return results


class RegressionTask(classification.ClassificationTask):
  """One real-valued label in [min_value, max_value] per example."""

  def __init__(self, config, name, min_value, max_value):
    super().__init__(config, name, [])
    self.min_value, self.max_value = float(min_value), float(max_value)
    if not self.max_value > self.min_value:
      raise ValueError(
        f"task {name}: max_value ({max_value}) must exceed min_value "
        f"({min_value})"
      )

  def check_label(self, label, path, line):
    try:
      value = float(label)
    except ValueError:
      value = None
    if value is None or not self.min_value <= value <= self.max_value:
      raise readers.DataFileError(
        f"{path} line {line}: field 'label' is {readers.shown(label)}, not a "
        f"number in "
        f"[{self.min_value}, {self.max_value}]"
      )

  def normalise(self, label):
    """The official normalisation of a target."""
    return (float(label) - self.min_value) / self.max_value

  def value_of(self, prediction):
    return float(prediction) * self.max_value + self.min_value

  def feature_specs(self):
    return {
      f"{self.name}_targets": ([], tf.float32),
      f"{self.name}_eid": ([], tf.int64),
    }

  def featurize(self, examples, tokenizer):
    features = super().featurize(examples, tokenizer)
    for feature, example in zip(features, examples):
      del feature[f"{self.name}_label_ids"]
      target = 0.0 if example.label is None else self.normalise(example.label)
      feature[f"{self.name}_targets"] = target
    return features

  def build_head(self, bert_config):
    return heads.classification_head(
      f"task_specific/{self.name}", bert_config.hidden_size, 1
    )

  def loss_and_outputs(self, head, sequence_output, features, training):
    predictions = head(sequence_output, training)[:, 0]
    targets = features[f"{self.name}_targets"]
    losses = tf.square(predictions - targets)
    return losses, {
      "loss": losses,
      "predictions": predictions,
      "targets": targets,
      "eid": features[f"{self.name}_eid"],
    }

  def get_scorer(self, examples, tokenizer):
    return RegressionScorer(self, examples)

  def submission_lines(self, examples, outputs, tokenizer):
    """One {"id", "label"} per test example, the value in the label's
    original scale."""
    by_eid = dict(zip(outputs["eid"].tolist(), outputs["predictions"].tolist()))
    return [
      {"id": e.guid, "label": self.value_of(by_eid[e.eid])} for e in examples
    ]

  def score_file(self, gold_path, predictions_path):
    examples = self.read_examples(gold_path, True)
    predicted = readers.read_predictions(predictions_path)
    missing = [e.guid for e in examples if str(e.guid) not in predicted]
    if missing:
      raise readers.DataFileError(
        f"{predictions_path}: no prediction for id {missing[0]} "
        f"({len(missing)} missing)"
      )
    targets = [float(e.label) for e in examples]
    values = [float(predicted[str(e.guid)]["label"]) for e in examples]
    return regression_metrics(targets, values)
