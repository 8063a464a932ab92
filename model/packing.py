"""The encoder's input layout: [CLS] first [SEP] (second [SEP]), padded.

One packer for every job: pretraining examples, classification pairs, QA
windows (question first, context second), tagging sequences, and the
in-graph version used by the exported text signature.
"""

import tensorflow as tf


def pad(values, length, fill=0):
  """``values`` (a list) followed by ``fill`` up to ``length``."""
  return list(values) + [fill] * (length - len(values))


def pack(first, second, cls_id, sep_id, max_length):
  """Packs one or two id segments as the encoder expects.

  Args:
    first: ids of the first segment (segment id 0).
    second: ids of the second segment (segment id 1), or None/empty.
    cls_id, sep_id: ids of [CLS] and [SEP].
    max_length: the padded length; the packed ids must fit in it.

  Returns:
    {"input_ids", "input_mask", "segment_ids"}: lists of ``max_length`` ints.
  """
  input_ids = [cls_id] + list(first) + [sep_id]
  segment_ids = [0] * len(input_ids)
  if second:
    input_ids += list(second) + [sep_id]
    segment_ids += [1] * (len(second) + 1)
  if len(input_ids) > max_length:
    raise ValueError(
      f"packed input of {len(input_ids)} tokens is longer "
      f"than max_length {max_length}"
    )
  return {
    "input_ids": pad(input_ids, max_length),
    "input_mask": pad([1] * len(input_ids), max_length),
    "segment_ids": pad(segment_ids, max_length),
  }


def pack_ragged(token_ids, cls_id, sep_id, max_length):
  """The in-graph single-segment packer.

  Args:
    token_ids: [batch, (tokens)] int32 ragged tensor.
    cls_id, sep_id: ids of [CLS] and [SEP].
    max_length: the longest packed row (longer texts are cut).

  Returns:
    (input_ids, input_mask, segment_ids), int32 [batch, longest row].
  """
  token_ids = tf.cast(token_ids[:, : max_length - 2], tf.int32)
  rows = tf.cast(token_ids.nrows(), tf.int32)
  cls, sep = (
    tf.RaggedTensor.from_tensor(tf.fill([rows, 1], token))
    for token in (cls_id, sep_id)
  )
  ids = tf.concat([cls, token_ids, sep], axis=1)
  input_ids = ids.to_tensor(0)
  input_mask = tf.ones_like(ids).to_tensor(0)
  return input_ids, input_mask, tf.zeros_like(input_ids)
