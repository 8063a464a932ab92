"""Sequence tagging (NER) over characters, and CLUENER 2020 (JSON lines).

Text is tokenized character by character (as CLUENER's baselines do), so
every entity span maps onto whole tokens and predictions map back to the
characters exactly. As in the official tagging task: a character that
yields several word pieces is labelled on its first piece (the others,
[CLS], [SEP] and padding carry no loss), every real token has segment id 1,
the token outputs get no dropout, and tags are BIOES by default (BIO is
``tagging_scheme: "BIO"``).
"""

import collections
import os

import tensorflow as tf

from finetune import heads
from finetune import readers
from finetune import task
from model import packing

SCHEMES = ("BIO", "BIOES")


def span_tags(length, spans, scheme):
  """Character tags of [(start, end inclusive, type)] spans.

  Overlapping spans (CLUENER has a nested one) keep the longer, earlier one.
  """
  tags = ["O"] * length
  taken = [False] * length
  for start, end, kind in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
    if start < 0 or end >= length or any(taken[start : end + 1]):
      continue
    for i in range(start, end + 1):
      taken[i] = True
      tags[i] = ("B-" if i == start else "I-") + kind
    if scheme == "BIOES":
      if start == end:
        tags[start] = "S-" + kind
      else:
        tags[end] = "E-" + kind
  return tags


def tags_to_spans(tags):
  """[(start, end inclusive, type)] of a BIO or BIOES tag sequence (strict:
  an I-/E- that does not continue an entity of its type starts a new one)."""
  spans, start, kind = [], None, None
  for i, tag in enumerate(list(tags) + ["O"]):
    prefix, _, label = tag.partition("-")
    continues = prefix in ("I", "E") and kind == label and start is not None
    if start is not None and not continues:
      spans.append((start, i - 1, kind))
      start, kind = None, None
    if prefix in ("B", "S") or (prefix in ("I", "E") and not continues):
      start, kind = i, label
    if prefix in ("E", "S") and start is not None:
      spans.append((start, i, kind))
      start, kind = None, None
  return spans


def entity_metrics(gold, predicted):
  """Entity precision, recall and F1 (exact span and type) in %, overall
  and ``<type>_f1`` per type.

  Args:
    gold, predicted: per example, a set of (start, end, type) spans.
  """
  counts = collections.defaultdict(lambda: [0, 0, 0])  # tp, pred, gold
  for gold_spans, pred_spans in zip(gold, predicted):
    for span in pred_spans:
      counts[span[2]][1] += 1
      counts[span[2]][0] += span in gold_spans
    for span in gold_spans:
      counts[span[2]][2] += 1

  def prf(tp, npred, ngold):
    p = 100.0 * tp / npred if npred else 0.0
    r = 100.0 * tp / ngold if ngold else 0.0
    return p, r, (2 * p * r / (p + r) if tp else 0.0)

  total = [sum(c[i] for c in counts.values()) for i in range(3)]
  p, r, f1 = prf(*total)
  results = {"f1": f1, "precision": p, "recall": r}
  for kind in sorted(counts):
    results[f"{kind}_f1"] = prf(*counts[kind])[2]
  return results


def predicted_spans(tags, outputs):
  """{example eid: [(start, end inclusive, type)]} of a split's outputs,
  over each text's characters (those past max_seq_length get "O").

  Args:
    tags: the task's tag names (output i means ``tags[i]``).
    outputs: arrays "eid" [examples], "predictions" and "chars" [examples,
      seq_len] (the character of each token's first piece, else -1).
  """
  by_eid = {}
  for eid, preds, chars in zip(
    outputs["eid"], outputs["predictions"], outputs["chars"]
  ):
    keep = chars >= 0
    char_tags = ["O"] * (int(chars.max()) + 1 if keep.any() else 0)
    for char, pred in zip(chars[keep], preds[keep]):
      char_tags[char] = tags[pred]
    by_eid[int(eid)] = tags_to_spans(char_tags)
  return by_eid


class EntityScorer(task.Scorer):
  """Entity-level precision, recall and F1 (exact span and type), in %,
  overall and per type, against each text's gold entities in full: an
  entity past max_seq_length is a missed one ("truncated" counts the texts
  that were cut), as score_predictions.py scores the submission file."""

  def __init__(self, task_, examples):
    self.task, self.examples = task_, examples
    self.outputs = collections.defaultdict(list)

  def update(self, outputs):
    for key in ("eid", "predictions", "chars"):
      self.outputs[key].extend(outputs[key])

  def get_results(self):
    by_eid = predicted_spans(self.task.tags, self.outputs)
    gold = [set(tags_to_spans(e.label)) for e in self.examples]
    pred = [set(by_eid.get(e.eid, [])) for e in self.examples]
    results = entity_metrics(gold, pred)
    fed = {
      int(eid): int(chars.max()) + 1
      for eid, chars in zip(self.outputs["eid"], self.outputs["chars"])
    }
    results["truncated"] = sum(
      fed.get(e.eid, 0) < len(e.text_a.rstrip()) for e in self.examples
    )
    return results


class TaggingTask(task.Task):
  """Token classification over characters; variables task_specific/<name>/."""

  # padded as featurize pads; weight 0 marks what is never scored
  token_outputs = {"label_ids": 0, "predictions": 0, "weights": 0, "chars": -1}

  def __init__(self, config, name, entity_types, scheme="BIOES"):
    super().__init__(config, name)
    if scheme not in SCHEMES:
      raise ValueError(f"tagging scheme {scheme!r} is not one of {SCHEMES}")
    self.scheme = scheme
    prefixes = "BI" if scheme == "BIO" else "BIES"
    self.tags = ["O"] + [f"{p}-{t}" for t in entity_types for p in prefixes]
    self.tag_ids = {tag: i for i, tag in enumerate(self.tags)}
    self.submission_file = f"{name}_predict.json"

  def decode(self, ids):
    return [self.tags[i] for i in ids]

  def feature_specs(self):
    seq = [self.config.max_seq_length]
    return {
      f"{self.name}_labels": (seq, tf.int64),
      f"{self.name}_weights": (seq, tf.int64),
      f"{self.name}_chars": (seq, tf.int64),
      f"{self.name}_eid": ([], tf.int64),
    }

  def featurize(self, examples, tokenizer):
    chars = sorted({c for e in examples for c in e.text_a})
    pieces = dict(zip(chars, tokenizer.tokenize_to_ids(chars)))
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    length = self.config.max_seq_length
    features = []
    for example in examples:
      # [CLS] and [SEP] carry label 0, weight 0 and no character (-1)
      ids, labels, positions = [], [0], [-1]
      for index, char in enumerate(example.text_a):
        for k, piece in enumerate(pieces[char]):
          if len(ids) == length - 2:
            break
          ids.append(piece)
          first = k == 0 and example.label is not None
          labels.append(self.tag_ids[example.label[index]] if first else 0)
          positions.append(index if k == 0 else -1)
      feature = packing.pack(ids, None, cls_id, sep_id, length)
      # as the official tagging task: segment 1 on every real token
      feature["segment_ids"] = list(feature["input_mask"])
      positions = packing.pad(positions, length, -1)
      feature.update(
        {
          f"{self.name}_labels": packing.pad(labels, length),
          f"{self.name}_weights": [int(p >= 0) for p in positions],
          f"{self.name}_chars": positions,
          f"{self.name}_eid": example.eid,
        }
      )
      features.append(feature)
    return features

  def build_head(self, bert_config):
    return heads.token_head(
      f"task_specific/{self.name}", bert_config.hidden_size, len(self.tags)
    )

  def loss_and_outputs(self, head, sequence_output, features, training):
    logits = head(sequence_output, training)
    labels = features[f"{self.name}_labels"]
    weights = tf.cast(features[f"{self.name}_weights"], tf.float32)
    losses = (
      tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits
      )
      * weights
    )
    return tf.reduce_sum(losses, -1), {
      "loss": tf.reduce_sum(losses, -1),
      "label_ids": labels,
      "predictions": tf.argmax(logits, -1, output_type=tf.int32),
      "weights": features[f"{self.name}_weights"],
      "chars": features[f"{self.name}_chars"],
      "eid": features[f"{self.name}_eid"],
    }

  def get_scorer(self, examples, tokenizer):
    return EntityScorer(self, examples)

  def data_files(self, split):
    return [os.path.join(self.data_dir, split + self.file_suffix)]

  def get_examples(self, split):
    return self.read_examples(self.data_files(split)[0], split != "test")

  def score_file(self, gold_path, predictions_path):
    """Entity P/R/F1 of a submission file ({"id", "label": {type: {text:
    [[start, end]]}}} lines) against labelled data."""
    predicted = readers.read_predictions(predictions_path)
    gold, pred = [], []
    for example in self.read_examples(gold_path, True):
      gold.append(set(tags_to_spans(example.label)))
      label = predicted.get(str(example.guid), {}).get("label") or {}
      pred.append(
        {
          (start, end, self.canonical_type(kind))
          for kind, entities in label.items()
          for positions in entities.values()
          for start, end in positions
        }
      )
    return entity_metrics(gold, pred)

  def canonical_type(self, kind):
    return kind

  def submission_lines(self, examples, outputs, tokenizer):
    """CLUENER's format: {"id", "label": {type: {entity: [[start, end]]}}}."""
    by_eid = predicted_spans(self.tags, outputs)
    lines = []
    for example in examples:
      label = collections.defaultdict(dict)
      for start, end, kind in by_eid.get(example.eid, []):
        text = example.text_a[start : end + 1]
        label[kind].setdefault(text, []).append([start, end])
      lines.append({"id": example.guid, "label": dict(label)})
    return lines


CLUENER_TYPES = [
  "address",
  "book",
  "company",
  "game",
  "government",
  "movie",
  "name",
  "organization",
  "position",
  "scene",
]
# the official release spells it "goverment"; some copies correct it
CLUENER_ALIASES = {"goverment": "government"}
# submissions spell types as the official release (and CLUE's scorer) do
CLUENER_SPELLING = {"government": "goverment"}


class CLUENER(TaggingTask):
  """CLUENER 2020: 10 entity types. Both spellings of government are read;
  submissions use the official release's ("goverment"), whatever a run
  read."""

  def __init__(self, config):
    super().__init__(
      config,
      "cluener",
      CLUENER_TYPES,
      getattr(config, "tagging_scheme", "BIOES"),
    )
    self.spelling = dict(CLUENER_SPELLING)
    self.data_dir = os.path.join(config.raw_data_dir, self.name)
    self.file_suffix = ".json"

  def canonical_type(self, kind):
    return CLUENER_ALIASES.get(kind, kind)

  def submission_lines(self, examples, outputs, tokenizer):
    lines = super().submission_lines(examples, outputs, tokenizer)
    for line in lines:
      line["label"] = {
        self.spelling.get(k, k): v for k, v in line["label"].items()
      }
    return lines

  def read_examples(self, path, labelled):
    examples = []
    for line, row in readers.read_jsonl(path):
      text = readers.field(row, "text", path, line)
      tags = None
      if labelled:
        spans = []
        for kind, entities in readers.field(row, "label", path, line).items():
          kind = CLUENER_ALIASES.get(kind, kind)
          if kind not in CLUENER_TYPES:
            raise readers.DataFileError(
              f"{path} line {line}: unknown entity type {readers.shown(kind)}"
            )
          for positions in entities.values():
            spans += [(s, e, kind) for s, e in positions]
        tags = span_tags(len(text), spans, self.scheme)
      guid = row.get("id", len(examples))
      examples.append(
        task.Example(
          self.name, len(examples), text, None, label=tags, guid=guid
        )
      )
    if not examples:
      raise readers.DataFileError(f"{path}: {self.name} has no examples")
    return examples
