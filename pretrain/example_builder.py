"""Packs tokenized sentences into pretraining examples (official semantics).

Sentences of a document are collected until they reach the target length,
then split into two segments: [CLS] first [SEP] second [SEP]. 10% of the
examples have a single segment (as in classification tasks), and after 5% of
the examples the next target length is random in [5, max_length].
"""

import random

import tensorflow as tf

from model import packing


class ExampleBuilder:
  """Turns a stream of tokenized sentences into padded examples.

  Args:
    cls_id, sep_id: ids of [CLS] and [SEP].
    max_length: the length of every example.
    rng: a `random.Random` (seed it for reproducible output).
  """

  def __init__(self, cls_id, sep_id, max_length, rng=None):
    self.cls_id, self.sep_id = cls_id, sep_id
    self.max_length = max_length
    self.rng = rng or random.Random()
    self._sentences = []
    self._length = 0
    self._target_length = max_length

  def add_sentence(self, token_ids):
    """Adds one non-empty line's ids; returns an example when one is full."""
    self._sentences.append(list(token_ids))
    self._length += len(token_ids)
    if self._length >= self._target_length:
      return self._create_example()
    return None

  def end_document(self):
    """A document boundary: returns the pending example, if any."""
    if self._length:
      return self._create_example()
    self._sentences = []
    return None

  def _split_segments(self):
    if self.rng.random() < 0.1:
      first_target = 100000  # a single segment
    else:
      first_target = (self._target_length - 3) // 2  # room for [CLS]/[SEP]s
    first, second = [], []
    for sentence in self._sentences:
      # the sentence goes first if the first segment is empty, if it fits,
      # or half of the time when it would overflow an unfinished first one
      if (
        not first
        or len(first) + len(sentence) < first_target
        or (
          not second and len(first) < first_target and self.rng.random() < 0.5
        )
      ):
        first += sentence
      else:
        second += sentence
    first = first[: self.max_length - 2]
    second = second[: max(0, self.max_length - len(first) - 3)]
    return first, second

  def _create_example(self):
    first, second = self._split_segments()
    self._sentences = []
    self._length = 0
    if self.rng.random() < 0.05:
      self._target_length = self.rng.randint(5, self.max_length)
    else:
      self._target_length = self.max_length
    return self.pack(first, second)

  def pack(self, first, second):
    """(input_ids, input_mask, segment_ids), each of length max_length."""
    packed = packing.pack(
      first, second, self.cls_id, self.sep_id, self.max_length
    )
    return packed["input_ids"], packed["input_mask"], packed["segment_ids"]


def serialize_example(input_ids, input_mask, segment_ids):
  """A serialized tf.train.Example with the three int64 features."""

  def feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  example = tf.train.Example(
    features=tf.train.Features(
      feature={
        "input_ids": feature(input_ids),
        "input_mask": feature(input_mask),
        "segment_ids": feature(segment_ids),
      }
    )
  )
  return example.SerializeToString()
