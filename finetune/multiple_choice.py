"""Multiple-choice reading comprehension: each question is scored against
each of its options, and a softmax over the options picks the answer.

The options are packed as `model.choice_packing` says; a question has up
to ``max_choices`` options, one with fewer is padded with empty rows whose
logits are masked out of the softmax. The head is the official sentence
classifier's (dropout, then ``task_specific/<task>/dense``) with one
output: the score of an option from its [CLS] vector.

Features of one question: ``input_ids``, ``input_mask``, ``segment_ids``
[max_choices, max_seq_length] and ``<task>_choice_mask`` [max_choices];
the model encodes the ``batch * max_choices`` rows at once.
"""

import dataclasses
from typing import Any
from typing import Optional

import tensorflow as tf

from finetune import classification
from finetune import heads
from finetune import readers
from finetune import task
from model import choice_packing


@dataclasses.dataclass
class ChoiceExample:
  """One question with its options.

  ``context`` is one text, or for a cloze question the two texts before
  and after the asked blank (which becomes [MASK] tokens).
  """

  task_name: str
  eid: int  # position in the split
  context: tuple
  question: str
  choices: list
  label: Optional[int] = None  # the answer's option index
  guid: Any = None  # the id written to submission files


def empty_rows(max_length):
  """The features of a padded (absent) option: all zeros."""
  zeros = [0] * max_length
  return {"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros}


def stack_rows(rows, max_choices, max_length):
  """{feature: [max_choices * max_length] ints} of a question's packed
  options, padded with empty rows (features are stored flat)."""
  rows = rows + [empty_rows(max_length)] * (max_choices - len(rows))
  return {
    name: [value for row in rows for value in row[name]]
    for name in ("input_ids", "input_mask", "segment_ids")
  }


def option_index(value, count, where):
  """A predicted or gold option index: an int in [0, count)."""
  if isinstance(value, bool) or not isinstance(value, int):
    raise readers.DataFileError(f"{where}: {value!r} is not an option index")
  if not 0 <= value < count:
    raise readers.DataFileError(
      f"{where}: option index {value} is not below its {count} options"
    )
  return value


class MultipleChoiceTask(task.Task):
  """A task whose examples are `ChoiceExample` questions.

  Subclasses read their files into examples (`get_examples`) and write
  submissions; this class packs, scores and checks them.
  """

  max_choices = 4  # options per question the model is built for

  def check_question(self, example, path, record):
    """Errors naming the file and record for options the task cannot
    take or an answer that is not among them."""
    count = len(example.choices)
    if count < 2:
      raise readers.DataFileError(
        f"{path}: {record} has {count} option(s); a multiple-choice "
        f"question needs at least 2"
      )
    if count > self.max_choices:
      raise readers.DataFileError(
        f"{path}: {record} has {count} options; {self.name} supports at "
        f"most {self.max_choices}"
      )
    if not all(isinstance(c, str) for c in example.choices):
      raise readers.DataFileError(
        f"{path}: {record}: every option must be a string"
      )

  def answer_index(self, choices, answer, path, record):
    """The index of ``answer`` (an option's text) among ``choices``."""
    if answer not in choices:
      raise readers.DataFileError(
        f"{path}: {record}: the answer {readers.shown(answer)} is not one "
        f"of its options {readers.shown(choices)}"
      )
    return choices.index(answer)

  def feature_specs(self):
    return {
      f"{self.name}_choice_mask": ([self.max_choices], tf.int64),
      f"{self.name}_label_ids": ([], tf.int64),
      f"{self.name}_eid": ([], tf.int64),
    }

  def _context_ids(self, piece_ids, mask_id):
    """(context token ids, position of the asked blank or None) of a
    context's tokenized pieces (two around a cloze blank)."""
    if len(piece_ids) == 1:
      return list(piece_ids[0]), None
    before, after = piece_ids
    blank = [mask_id] * choice_packing.IDIOM_WIDTH
    return list(before) + blank + list(after), len(before)

  def featurize(self, examples, tokenizer):
    texts = sorted(
      {t for e in examples for t in (*e.context, e.question, *e.choices)}
    )
    token_ids = dict(zip(texts, tokenizer.tokenize_to_ids(texts)))
    ids = {t: tokenizer.vocab[t] for t in ("[CLS]", "[SEP]", "[MASK]")}
    length = self.config.max_seq_length
    features = []
    for example in examples:
      pieces = [token_ids[p] for p in example.context]
      context, blank_at = self._context_ids(pieces, ids["[MASK]"])
      center = None
      if blank_at is not None:
        center = blank_at + choice_packing.IDIOM_WIDTH // 2
      question = token_ids[example.question]
      rows = [
        choice_packing.pack_choice(
          context, question, token_ids[choice], ids, length, center
        )
        for choice in example.choices
      ]
      feature = stack_rows(rows, self.max_choices, length)
      count = len(example.choices)
      feature[f"{self.name}_choice_mask"] = [1] * count + [0] * (
        self.max_choices - count
      )
      feature[f"{self.name}_label_ids"] = example.label or 0
      feature[f"{self.name}_eid"] = example.eid
      features.append(feature)
    return features

  def build_head(self, bert_config):
    return heads.classification_head(
      f"task_specific/{self.name}", bert_config.hidden_size, 1
    )

  def loss_and_outputs(self, head, sequence_output, features, training):
    """``sequence_output`` holds the rows of every option:
    [batch * max_choices, seq_len, hidden]."""
    choice_mask = features[f"{self.name}_choice_mask"]
    logits = choice_packing.masked_choice_logits(
      head(sequence_output, training), choice_mask
    )
    losses, outputs = classification.label_outputs(self.name, logits, features)
    outputs["probabilities"] = tf.nn.softmax(logits)
    return losses, outputs

  def get_scorer(self, examples, tokenizer):
    return classification.AccuracyScorer(num_labels=None)

  def predicted_indices(self, outputs):
    """{eid: predicted option index} of a split's outputs."""
    return dict(zip(outputs["eid"].tolist(), outputs["predictions"].tolist()))

  def accuracy_of(self, examples, predicted, predictions_path):
    """Accuracy (%) of {guid: option index} against labelled examples; a
    question without a prediction counts as wrong."""
    labels, preds = [], []
    for example in examples:
      index = predicted.get(str(example.guid))
      if index is not None:
        where = f"{predictions_path}: id {readers.shown(example.guid)}"
        option_index(index, len(example.choices), where)
      labels.append(example.label)
      preds.append(-1 if index is None else index)
    results = classification.accuracy_metrics(labels, preds, None)
    results["missing"] = sum(p < 0 for p in preds)
    return results
