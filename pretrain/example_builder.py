"""Packs tokenized sentences into pretraining examples (official semantics).

Sentences of a document are collected until they reach the target length,
then split into two segments: [CLS] first [SEP] second [SEP]. 10% of the
examples have a single segment (as in classification tasks), and after 5% of
the examples the next target length is random in [5, max_length].

With word boundaries (each sentence's ``starts``: True where a token begins
a word) an example also gets ``word_ids``: each token's word index within
the example, -1 for [CLS], [SEP] and padding.
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
    self._starts = []
    self._length = 0
    self._target_length = max_length

  def add_sentence(self, token_ids, starts=None):
    """Adds one non-empty line's ids (and word starts); returns an example
    when one is full."""
    self._sentences.append(list(token_ids))
    self._starts.append(starts)
    self._length += len(token_ids)
    if self._length >= self._target_length:
      return self._create_example()
    return None

  def end_document(self):
    """A document boundary: returns the pending example, if any."""
    if self._length:
      return self._create_example()
    self._sentences, self._starts = [], []
    return None

  def _split_segments(self):
    """(first, second): the indices of the sentences of each segment."""
    if self.rng.random() < 0.1:
      first_target = 100000  # a single segment
    else:
      first_target = (self._target_length - 3) // 2  # room for [CLS]/[SEP]s
    first, second = [], []
    first_length = second_length = 0
    for index, sentence in enumerate(self._sentences):
      # the sentence goes first if the first segment is empty, if it fits,
      # or half of the time when it would overflow an unfinished first one
      if (
        not first_length
        or first_length + len(sentence) < first_target
        or (
          not second_length
          and first_length < first_target
          and self.rng.random() < 0.5
        )
      ):
        first.append(index)
        first_length += len(sentence)
      else:
        second.append(index)
        second_length += len(sentence)
    return first, second

  def _joined(self, indices, parts, limit):
    """The concatenated ``parts`` of the sentences ``indices``, cut."""
    return [x for index in indices for x in parts[index]][:limit]

  def _create_example(self):
    first, second = self._split_segments()
    first_ids = self._joined(first, self._sentences, self.max_length - 2)
    second_limit = max(0, self.max_length - len(first_ids) - 3)
    second_ids = self._joined(second, self._sentences, second_limit)
    word_ids = None
    if self._starts and all(s is not None for s in self._starts):
      word_ids = example_word_ids(
        self._joined(first, self._starts, len(first_ids)),
        self._joined(second, self._starts, len(second_ids)),
        self.max_length,
      )
    self._sentences, self._starts = [], []
    self._length = 0
    if self.rng.random() < 0.05:
      self._target_length = self.rng.randint(5, self.max_length)
    else:
      self._target_length = self.max_length
    return self.pack(first_ids, second_ids) + (
      (word_ids,) if word_ids is not None else ()
    )

  def pack(self, first, second):
    """(input_ids, input_mask, segment_ids), each of length max_length."""
    packed = packing.pack(
      first, second, self.cls_id, self.sep_id, self.max_length
    )
    return packed["input_ids"], packed["input_mask"], packed["segment_ids"]


def example_word_ids(first_starts, second_starts, max_length):
  """[max_length] word indices of the tokens of ``[CLS] first [SEP]
  second [SEP]`` (-1 for [CLS], [SEP] and padding); a segment's first
  token always begins a word."""
  word_ids, word = [-1], -1
  for segment, starts in enumerate((first_starts, second_starts)):
    if segment == 1 and not starts:
      break  # a single segment: [CLS] first [SEP]
    for position, start in enumerate(starts):
      if start or position == 0:
        word += 1
      word_ids.append(word)
    word_ids.append(-1)  # its [SEP]
  return word_ids + [-1] * (max_length - len(word_ids))


def serialize_example(input_ids, input_mask, segment_ids, word_ids=None):
  """A serialized tf.train.Example with the three int64 features (and
  ``word_ids`` when given)."""

  def feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  features = {
    "input_ids": feature(input_ids),
    "input_mask": feature(input_mask),
    "segment_ids": feature(segment_ids),
  }
  if word_ids is not None:
    features["word_ids"] = feature(word_ids)
  example = tf.train.Example(features=tf.train.Features(feature=features))
  return example.SerializeToString(deterministic=True)
