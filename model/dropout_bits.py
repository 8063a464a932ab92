"""Dropout: keep-masks from 16-bit random numbers, and the masking itself.

Pure tensor helpers, apart from the layers that use them. Both of the
encoder's paths drop with `kept` and the threshold of `drop_threshold`;
they differ only in where the 16 random bits of an element come from:

- the plain ops (`random_keep_mask`): TensorFlow's Philox generator,
  which costs the same per 32-bit number whatever is made of it, so each
  number decides two elements by its 16-bit halves (``tf.nn.dropout``
  spends one number on every element; dropout's random numbers were the
  largest non-matmul cost of a pretraining step);
- the compiled kernels (`hashed_keep_mask`): a hash of each element's
  position and a per-call seed, made inside the kernel's loop, and made
  again by its backward from the seed, so no mask passes through memory.
  As TensorFlow ops one by one the hash costs several times Philox's.
"""

import math

import tensorflow as tf

HALF_RANGE = 2**16


def drop_threshold(rate):
  """The 16-bit value below which an element is dropped: the drop
  probability is ``rate`` rounded to a multiple of 2**-16 (0.1 becomes
  6554 / 65536 = 0.100006)."""
  if not 0.0 <= rate < 1.0:
    raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
  return round(rate * HALF_RANGE)


def kept(x, keep, rate):
  """Inverted dropout of ``x`` by the bool mask ``keep`` (its shape): kept
  values scaled by 1 / (1 - rate), dropped ones 0, in the dtype of ``x``."""
  scale = tf.cast(1.0 / (1.0 - rate), x.dtype)
  return tf.where(keep, x * scale, tf.zeros([], x.dtype))


def keep_from_halves(halves, rate):
  """Keep-mask of uint16 random values: True where ``halves`` >= the
  `drop_threshold` of ``rate``. Same shape as ``halves``."""
  return halves >= tf.constant(drop_threshold(rate), tf.uint16)


def random_halves(count):
  """``count`` independent uniform uint16 values, [count], from
  ceil(count / 2) 32-bit Philox numbers. The stateless generator's seed is
  drawn from the stateful one, so ``tf.random.set_seed`` makes runs
  repeatable as with any TensorFlow random op."""
  seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
  words = tf.random.stateless_uniform(
    [(count + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32
  )
  return tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:count]


def random_keep_mask(shape, rate):
  """A bool mask of ``shape`` (a 1-D int tensor), each element True with
  probability 1 - rate (rate rounded as in `drop_threshold`)."""
  halves = random_halves(tf.reduce_prod(shape))
  return tf.reshape(keep_from_halves(halves, rate), shape)


def _mix32(x):
  """A 32-bit integer hash with full avalanche (Wellons' "lowbias32"):
  every input bit flips each output bit with probability close to 1/2.
  x: uint32, any shape."""
  x = _xor_shift(x, 16) * tf.constant(0x7FEB352D, tf.uint32)
  x = _xor_shift(x, 15) * tf.constant(0x846CA68B, tf.uint32)
  return _xor_shift(x, 16)


def _xor_shift(x, bits):
  """x ^ (x >> bits), uint32."""
  shifted = tf.bitwise.right_shift(x, tf.constant(bits, tf.uint32))
  return tf.bitwise.bitwise_xor(x, shifted)


def hashed_halves(shape, seed):
  """16-bit uniform values of a static ``shape`` (a list of ints), a hash
  of each element's position and ``seed``: no random numbers to draw or
  keep, so a compiled kernel makes them in its loop and its backward
  makes the same ones again. For XLA-compiled code (uint32 arithmetic).

  Args:
    shape: the static shape, fewer than 2**31 elements.
    seed: uint32 [2].

  Returns:
    uint32 values in [0, 2**16) of ``shape``.
  """
  count = math.prod(shape)
  position = tf.bitcast(tf.range(count, dtype=tf.int32), tf.uint32)
  mixed = _mix32(_mix32(tf.bitwise.bitwise_xor(position, seed[0])) + seed[1])
  return tf.reshape(
    tf.bitwise.right_shift(mixed, tf.constant(16, tf.uint32)), shape
  )


def hashed_keep_mask(shape, seed, rate):
  """A bool keep-mask of the static ``shape`` from `hashed_halves`, each
  element True with probability 1 - rate (as in `drop_threshold`)."""
  threshold = tf.constant(drop_threshold(rate), tf.uint32)
  return hashed_halves(shape, seed) >= threshold


def random_seed():
  """A uint32 [2] seed for `hashed_halves`, drawn from TensorFlow's
  stateful generator (so ``tf.random.set_seed`` makes runs repeatable)."""
  seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
  return tf.bitcast(seed, tf.uint32)
