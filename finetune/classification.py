"""Sentence (pair) classification: examples, features, head and scorer."""

import abc
import os

import numpy as np
import tensorflow as tf

from finetune import heads
from finetune import readers
from finetune import task
from model import packing


def truncate_pair(ids_a, ids_b, max_length):
  """Official heuristic: drop the last token of the longer side until the
  pair fits in ``max_length`` (lists are modified in place)."""
  while len(ids_a) + len(ids_b) > max_length:
    (ids_a if len(ids_a) > len(ids_b) else ids_b).pop()


def pack_pair(ids_a, ids_b, cls_id, sep_id, max_seq_length):
  """[CLS] a [SEP] (b [SEP]) with segment ids, padded to max_seq_length."""
  ids_a, ids_b = list(ids_a), list(ids_b or [])
  if ids_b:
    truncate_pair(ids_a, ids_b, max_seq_length - 3)
  else:
    ids_a = ids_a[: max_seq_length - 2]
  return packing.pack(ids_a, ids_b, cls_id, sep_id, max_seq_length)


def accuracy_metrics(labels, preds, num_labels, positive=1):
  """Accuracy, and for binary tasks precision/recall/F1 of the label id
  ``positive``, in %.

  Args:
    labels, preds: label ids [examples].
    num_labels: the task's number of labels.
    positive: the id of the binary task's positive label.
  """
  labels, preds = np.asarray(labels), np.asarray(preds)
  results = {
    "accuracy": 100.0 * float(np.mean(labels == preds)) if len(labels) else 0.0
  }
  if num_labels == 2:
    tp = float(np.sum((preds == positive) & (labels == positive)))
    precision = 100.0 * tp / max(1.0, float(np.sum(preds == positive)))
    recall = 100.0 * tp / max(1.0, float(np.sum(labels == positive)))
    results.update(
      precision=precision,
      recall=recall,
      f1=(2 * precision * recall / (precision + recall) if tp else 0.0),
    )
  return results


def matthews_correlation(labels, preds):
  """Matthews correlation coefficient (multi-class form), in %."""
  labels, preds = np.asarray(labels), np.asarray(preds)
  classes = np.union1d(labels, preds)
  true = np.array([np.sum(labels == k) for k in classes], np.float64)
  pred = np.array([np.sum(preds == k) for k in classes], np.float64)
  total, correct = float(len(labels)), float(np.sum(labels == preds))
  denominator = np.sqrt(
    (total**2 - np.sum(pred**2)) * (total**2 - np.sum(true**2))
  )
  if not denominator:
    return 0.0
  return 100.0 * float((correct * total - np.sum(pred * true)) / denominator)


def label_outputs(task_name, logits, features):
  """(per-example cross-entropy [batch], outputs) of [batch, labels]
  logits against ``<task>_label_ids``."""
  label_ids = features[f"{task_name}_label_ids"]
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=label_ids, logits=logits
  )
  return losses, {
    "loss": losses,
    "logits": logits,
    "predictions": tf.argmax(logits, -1, output_type=tf.int32),
    "label_ids": label_ids,
    "eid": features[f"{task_name}_eid"],
  }


class AccuracyScorer(task.Scorer):
  """Accuracy (and precision/recall/F1 of label 1 for binary tasks), in %.

  The official F1Scorer counted gold positives from the predictions; we count
  them from the labels.
  """

  def __init__(self, num_labels, metric="accuracy", positive=1):
    self.num_labels = num_labels
    self.metric = metric
    self.positive = positive
    self.labels, self.preds, self.losses = [], [], []

  def update(self, outputs):
    self.labels.extend(outputs["label_ids"].tolist())
    self.preds.extend(outputs["predictions"].tolist())
    self.losses.extend(outputs["loss"].tolist())

  def get_results(self):
    results = accuracy_metrics(
      self.labels, self.preds, self.num_labels, self.positive
    )
    if self.metric == "mcc":  # first: it picks the best epoch
      results = dict(
        mcc=matthews_correlation(self.labels, self.preds), **results
      )
    results["loss"] = float(np.mean(self.losses)) if self.losses else 0.0
    return results


class ClassificationTask(task.Task):
  """A task with one label per example from a fixed label list.

  Subclasses say where the texts and the label are in a row of the data.
  """

  file_format = "jsonl"
  file_suffix = ".json"
  symmetric = False  # train on both orders of the pair (double_unordered)
  id_field = "id"  # the field of a test row's submission id
  metric = "accuracy"  # or "mcc" (Matthews correlation, reported first)
  pair = False  # its examples are text pairs (text_a, text_b)
  positive = 1  # the label id whose precision/recall/F1 a binary task gives

  def __init__(self, config, name, label_list):
    super().__init__(config, name)
    self.label_list = [str(label) for label in label_list]
    self.label_ids = {label: i for i, label in enumerate(self.label_list)}

  @abc.abstractmethod
  def texts(self, row, path, line):
    """(text_a, text_b or None) of a row."""

  def label_of(self, row, path, line):
    """The label of a labelled row, as a string."""
    return str(readers.field(row, "label", path, line))

  def skip_row(self, row):
    """Rows the reference processors drop (e.g. NLI rows labelled '-')."""
    return False

  def split_path(self, split):
    return os.path.join(
      self.config.raw_data_dir, self.name, split + self.file_suffix
    )

  def data_files(self, split):
    return [self.split_path(split)]

  def get_examples(self, split):
    return self.read_examples(self.split_path(split), split != "test")

  def added_examples(self, split, examples):
    """With ``double_unordered``, a symmetric task also trains on each pair
    swapped."""
    if split != "train" or not (
      self.symmetric and self.config.double_unordered
    ):
      return []
    return [
      task.Example(
        self.name, len(examples) + i, e.text_b, e.text_a, e.label, e.guid
      )
      for i, e in enumerate(examples)
    ]

  def read_examples(self, path, labelled):
    """The examples of one data file (with labels when ``labelled``)."""
    examples = []
    for line, row in readers.read_rows(path, self.file_format):
      if labelled and self.skip_row(row):
        continue
      text_a, text_b = self.texts(row, path, line)
      label = self.label_of(row, path, line) if labelled else None
      if labelled:
        self.check_label(label, path, line)
      examples.append(
        task.Example(
          self.name,
          len(examples),
          text_a,
          text_b,
          label,
          row.get(self.id_field, len(examples)),
        )
      )
    if not examples:
      raise readers.DataFileError(f"{path}: {self.name} has no examples")
    return examples

  def check_label(self, label, path, line):
    """A labelled row's label must be one of the task's labels."""
    if label not in self.label_ids:
      raise readers.DataFileError(
        f"{path} line {line}: field 'label' is {readers.shown(label)}, not "
        f"one of the {len(self.label_list)} labels of {self.name} "
        f"({', '.join(self.label_list[:8])}...)"
      )

  def feature_specs(self):
    return {
      f"{self.name}_label_ids": ([], tf.int64),
      f"{self.name}_eid": ([], tf.int64),
    }

  def featurize(self, examples, tokenizer):
    ids_a = tokenizer.tokenize_to_ids([e.text_a for e in examples])
    pairs = [i for i, e in enumerate(examples) if e.text_b is not None]
    ids_b = dict(
      zip(pairs, tokenizer.tokenize_to_ids([examples[i].text_b for i in pairs]))
    )
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    features = []
    for i, example in enumerate(examples):
      feature = pack_pair(
        ids_a[i], ids_b.get(i), cls_id, sep_id, self.config.max_seq_length
      )
      feature[f"{self.name}_label_ids"] = self.label_ids.get(example.label, 0)
      feature[f"{self.name}_eid"] = example.eid
      features.append(feature)
    return features

  def build_head(self, bert_config):
    return heads.classification_head(
      f"task_specific/{self.name}",
      bert_config.hidden_size,
      len(self.label_list),
    )

  def loss_and_outputs(self, head, sequence_output, features, training):
    return label_outputs(self.name, head(sequence_output, training), features)

  def get_scorer(self, examples, tokenizer):
    return AccuracyScorer(len(self.label_list), self.metric, self.positive)

  def submission_lines(self, examples, outputs, tokenizer):
    """One {"id", "label"} per test example, in file order."""
    by_eid = dict(zip(outputs["eid"].tolist(), outputs["predictions"].tolist()))
    return [
      {"id": e.guid, "label": self.label_list[by_eid[e.eid]]} for e in examples
    ]

  def score_file(self, gold_path, predictions_path):
    """The dev metrics of a submission file against labelled data.

    A gold example without a prediction counts as wrong ("missing" says
    how many).
    """
    examples = self.read_examples(gold_path, True)
    predicted = readers.read_predictions(predictions_path)
    labels, preds = [], []
    for example in examples:
      labels.append(self.label_ids[example.label])
      label = predicted.get(str(example.guid), {}).get("label")
      if label is not None and str(label) not in self.label_ids:
        raise readers.DataFileError(
          f"{predictions_path}: id {readers.shown(example.guid)} has label "
          f"{readers.shown(label)}, not "
          f"one of the labels of {self.name}"
        )
      preds.append(self.label_ids.get(str(label), -1))
    results = accuracy_metrics(
      labels, preds, len(self.label_list), self.positive
    )
    if self.metric == "mcc":
      results = dict(mcc=matthews_correlation(labels, preds), **results)
    results["missing"] = sum(p < 0 for p in preds)
    return results
