"""Single requests through XLA-compiled encoders of a few fixed lengths.

At batch 1 a short text costs TensorFlow more in per-op overhead than in
arithmetic: the encoder is some 800 small ops. Compiled by XLA for one
shape, it is a handful of kernels. `bucketed` wraps an encoder so that a
batch of one whose length fits one of the given lengths is padded to the
shortest that holds it (the padding masked out, so the real positions'
outputs are the same up to float rounding) and runs the function compiled
for that shape; every other call (batches, longer inputs) runs the plain
encoder. XLA compiles each length on its first call, in the serving
process (a second or so each).

Example:
  >>> encode = lambda ids, mask, segments: tf.cast(
  ...   ids[..., None], tf.float32) * tf.ones([3])
  >>> fast = bucketed(encode, [8, 16])
  >>> ids = tf.constant([[2, 5, 7]])
  >>> fast(ids, tf.ones_like(ids), tf.zeros_like(ids)).shape
  TensorShape([1, 3, 3])
"""

import tensorflow as tf


def check_lengths(lengths, max_seq_length, flag="--compiled-lengths"):
  """The sorted distinct lengths; a clear error for one that is not a
  positive length up to ``max_seq_length``."""
  for length in lengths:
    if not isinstance(length, int) or not 0 < length <= max_seq_length:
      raise ValueError(
        f"{flag}: {length!r} is not a length from 1 to the served "
        f"max_seq_length {max_seq_length}"
      )
  return sorted(set(lengths))


def branch_index(shape, lengths):
  """The index in ``lengths`` of the shortest that holds a batch of one
  of ``shape`` [batch, seq_len], or ``len(lengths)`` (the plain encoder)
  for a larger batch or a longer input; ``lengths`` ascending."""
  shortest = tf.reduce_sum(tf.cast(shape[1] > tf.constant(lengths), tf.int32))
  return tf.where(tf.equal(shape[0], 1), shortest, len(lengths))


def bucketed(encode, lengths):
  """``encode`` with its batch-1 calls of up to ``max(lengths)`` tokens
  compiled.

  Args:
    encode: (input_ids, input_mask, segment_ids) int32 [batch, seq_len]
      -> [batch, seq_len, hidden].
    lengths: the padded lengths compiled for (e.g. [16, 32, 64]).

  Returns:
    A function of the same inputs and outputs.
  """
  lengths = sorted(set(lengths))
  compiled = tf.function(encode, jit_compile=True)

  def padded_to(size, ids, mask, segments):
    def call():
      length = tf.shape(ids)[1]
      pad = [[0, 0], [0, size - length]]
      fixed = [
        tf.ensure_shape(tf.pad(x, pad), [1, size])
        for x in (ids, mask, segments)
      ]
      return compiled(*fixed)[:, :length]

    return call

  def run(ids, mask, segments):
    branch = branch_index(tf.shape(ids), lengths)
    branches = [padded_to(size, ids, mask, segments) for size in lengths]
    branches.append(lambda: encode(ids, mask, segments))
    return tf.switch_case(branch, branches)

  return run
