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


def pair_lengths(len_a, len_b, room):
  """How many tokens of each text the official pair truncation keeps.

  `truncate_pair` drops the last token of the longer text (of the second on
  a tie) until both fit in ``room``: the shorter text stays whole while it
  fits in half the room, and two long texts get ceil(room / 2) and
  floor(room / 2).

  Args:
    len_a, len_b: [batch] int32 token counts.
    room: the tokens both may have together (max_length - 3).

  Returns:
    (kept of a, kept of b), each [batch] int32.
  """
  over = len_a + len_b > room
  keep_b = tf.minimum(len_b, tf.maximum(room - len_a, room // 2))
  return tf.where(over, room - keep_b, len_a), tf.where(over, keep_b, len_b)


def _first(ragged, counts):
  """The first ``counts[i]`` values of each row of ``ragged``."""
  lengths = tf.cast(ragged.row_lengths(), counts.dtype)
  positions = tf.ragged.range(lengths, dtype=counts.dtype)
  return tf.ragged.boolean_mask(ragged, positions < counts[:, tf.newaxis])


def _column(value, present):
  """A ragged column holding ``value`` in the rows where ``present``."""
  lengths = tf.cast(present, tf.int64)
  return tf.RaggedTensor.from_row_lengths(
    tf.fill([tf.reduce_sum(lengths)], value), lengths
  )


def pack_ragged_pair(first, second, cls_id, sep_id, max_length):
  """The in-graph packer of one or two segments, as `pack` after the
  official truncation: ``[CLS] a [SEP] b [SEP]`` (segment ids 0, then 1) in
  rows whose second text has tokens, ``[CLS] a [SEP]`` cut to
  ``max_length`` in the others.

  Args:
    first, second: [batch, (tokens)] int32 ragged tensors.
    cls_id, sep_id: ids of [CLS] and [SEP].
    max_length: the longest packed row.

  Returns:
    (input_ids, input_mask, segment_ids), int32 [batch, longest row].
  """
  len_a = tf.cast(first.row_lengths(), tf.int32)
  len_b = tf.cast(second.row_lengths(), tf.int32)
  keep_a, keep_b = pair_lengths(len_a, len_b, max_length - 3)
  alone = tf.equal(len_b, 0)
  keep_a = tf.where(alone, tf.minimum(len_a, max_length - 2), keep_a)
  rows = tf.ones_like(len_a, tf.bool)
  head = tf.concat(
    [_column(cls_id, rows), _first(first, keep_a), _column(sep_id, rows)], 1
  )
  tail = tf.concat(
    [_first(second, keep_b), _column(sep_id, keep_b > 0)], axis=1
  )
  ids = tf.cast(tf.concat([head, tail], axis=1), tf.int32)
  segments = tf.concat(
    [tf.zeros_like(head, tf.int32), tf.ones_like(tail, tf.int32)], axis=1
  )
  return (
    ids.to_tensor(0),
    tf.ones_like(ids).to_tensor(0),
    segments.to_tensor(0),
  )


def pack_dense(first, len_a, second, len_b, cls_id, sep_id, max_length):
  """`pack_ragged_pair` from padded tokens, with gathers and compares only
  (ops LiteRT runs natively, no ragged tensors).

  Args:
    first: [batch, width_a] int32 ids, row i valid up to ``len_a[i]``.
    len_a: [batch] int32.
    second, len_b: the second texts likewise (None: single texts).
    cls_id, sep_id: ids of [CLS] and [SEP].
    max_length: the longest packed row.

  Returns:
    (input_ids, input_mask, segment_ids), int32 [batch, longest row].
  """
  # a column of padding: gathers stay in range when every text is empty
  first = tf.pad(first, [[0, 0], [0, 1]])
  if second is None:
    keep_a = tf.minimum(len_a, max_length - 2)
    keep_b = tf.zeros_like(len_a)
    second = tf.zeros_like(first[:, :1])
  else:
    second = tf.pad(second, [[0, 0], [0, 1]])
    keep_a, keep_b = pair_lengths(len_a, len_b, max_length - 3)
    keep_a = tf.where(
      tf.equal(len_b, 0), tf.minimum(len_a, max_length - 2), keep_a
    )
  # [CLS] a [SEP] (b [SEP]): where each position's id comes from
  total = keep_a + 2 + tf.where(keep_b > 0, keep_b + 1, 0)
  width = tf.reduce_max(total)
  # expand_dims, not tf.newaxis: LiteRT's builtin strided slice has no
  # new-axis mask
  ka, kb = tf.expand_dims(keep_a, 1), tf.expand_dims(keep_b, 1)
  at = tf.expand_dims(tf.range(width), 0) + tf.zeros_like(ka)  # [batch, width]
  from_a = tf.gather(
    first, tf.clip_by_value(at - 1, 0, tf.shape(first)[1] - 1), batch_dims=1
  )
  from_b = tf.gather(
    second,
    tf.clip_by_value(at - ka - 2, 0, tf.shape(second)[1] - 1),
    batch_dims=1,
  )
  in_b = (at >= ka + 2) & (at < ka + 2 + kb)
  ids = tf.where(at <= ka, from_a, tf.where(in_b, from_b, sep_id))
  ids = tf.where(tf.equal(at, 0), cls_id, ids)
  present = at < tf.expand_dims(total, 1)
  input_ids = tf.where(present, ids, 0)
  input_mask = tf.cast(present, tf.int32)
  segment_ids = tf.cast(present & (at >= ka + 2), tf.int32)
  return input_ids, input_mask, segment_ids
