"""Dropout's keep-masks from 16-bit random numbers (model/dropout_bits.py)."""

import numpy as np
import pytest
import tensorflow as tf

from model import dropout_bits
from model import layers


def test_threshold_is_the_rate_in_sixteenths_of_a_bit_range():
  assert dropout_bits.drop_threshold(0.1) == 6554  # 6553.6 rounded
  assert dropout_bits.drop_threshold(0.5) == 32768
  assert dropout_bits.drop_threshold(0.0) == 0
  with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\)"):
    dropout_bits.drop_threshold(1.0)


def test_keep_from_halves_by_hand():
  halves = tf.constant([0, 6553, 6554, 6555, 65535], tf.uint16)
  keep = dropout_bits.keep_from_halves(halves, 0.1).numpy()
  assert keep.tolist() == [False, False, True, True, True]
  assert dropout_bits.keep_from_halves(halves, 0.0).numpy().all()


def test_random_halves_count_and_spread():
  tf.random.set_seed(4)
  halves = dropout_bits.random_halves(tf.constant(200_001)).numpy()
  assert halves.shape == (200_001,) and halves.dtype == np.uint16
  # uniform over 16 bits: each eighth of the range holds an eighth
  eighths = np.bincount(halves // 8192, minlength=8) / halves.size
  np.testing.assert_allclose(eighths, 1 / 8, atol=0.005)


def test_random_halves_repeat_under_the_global_seed():
  tf.random.set_seed(9)
  first = dropout_bits.random_halves(tf.constant(11)).numpy()
  tf.random.set_seed(9)
  np.testing.assert_array_equal(
    dropout_bits.random_halves(tf.constant(11)).numpy(), first
  )


def test_dropout_rate_scale_and_shape():
  tf.random.set_seed(5)
  x = tf.ones([3, 7, 4001])  # odd sizes: the halves do not pair up evenly
  y = layers.dropout(x, 0.1, training=True).numpy()
  assert y.shape == (3, 7, 4001)
  dropped = (y == 0).mean()
  assert dropped == pytest.approx(0.1, abs=0.003)
  kept = y[y != 0]
  np.testing.assert_allclose(kept, 1 / 0.9, rtol=1e-6)
  assert y.mean() == pytest.approx(1.0, abs=0.004)


def test_dropout_keeps_bfloat16_and_passes_gradients_of_kept_values():
  tf.random.set_seed(6)
  x = tf.ones([5, 33], tf.bfloat16)
  assert layers.dropout(x, 0.25, training=True).dtype == tf.bfloat16
  w = tf.Variable(tf.ones([5, 33]))
  with tf.GradientTape() as tape:
    y = layers.dropout(w * 2.0, 0.25, training=True)
    total = tf.reduce_sum(y)
  grad = tape.gradient(total, w).numpy()
  np.testing.assert_allclose(grad[y.numpy() != 0], 2.0 / 0.75, rtol=1e-6)
  assert (grad[y.numpy() == 0] == 0).all()
  assert layers.dropout(w, 0.25, training=False) is w


def test_masks_differ_between_dropouts_and_between_calls_of_a_function():
  tf.random.set_seed(7)
  x = tf.ones([4, 50])

  @tf.function
  def two_dropouts(x):
    return (
      layers.dropout(x, 0.5, training=True),
      layers.dropout(x, 0.5, training=True),
    )

  first, second = (m.numpy() != 0 for m in two_dropouts(x))
  again, _ = (m.numpy() != 0 for m in two_dropouts(x))
  assert (first != second).any() and (first != again).any()


def _lowbias32(x):
  """The hash of `dropout_bits.hashed_halves`, in numpy (uint32 wraps)."""
  x = np.uint32(x)
  x ^= x >> np.uint32(16)
  x = np.uint32((int(x) * 0x7FEB352D) & 0xFFFFFFFF)
  x ^= x >> np.uint32(15)
  x = np.uint32((int(x) * 0x846CA68B) & 0xFFFFFFFF)
  return x ^ (x >> np.uint32(16))


def test_hashed_halves_by_hand():
  seed = tf.constant([12345, 678], tf.uint32)
  halves = tf.function(
    lambda s: dropout_bits.hashed_halves([2, 3], s), jit_compile=True
  )(seed).numpy()
  expected = [
    _lowbias32((int(_lowbias32(p ^ 12345)) + 678) & 0xFFFFFFFF) >> 16
    for p in range(6)
  ]
  assert halves.shape == (2, 3)
  assert halves.reshape(-1).tolist() == [int(e) for e in expected]


def test_hashed_halves_are_uniform_and_independent_of_neighbours():
  make = tf.function(
    lambda s: dropout_bits.hashed_halves([301, 333], s), jit_compile=True
  )
  halves = make(tf.constant([7, 11], tf.uint32)).numpy().reshape(-1)
  eighths = np.bincount(halves // 8192, minlength=8) / halves.size
  np.testing.assert_allclose(eighths, 1 / 8, atol=0.005)
  dropped = (halves < dropout_bits.drop_threshold(0.1)).astype(float)
  assert abs(dropped.mean() - 0.1) < 0.003
  for lag in (1, 333):  # the next element, the next row
    assert abs(np.corrcoef(dropped[:-lag], dropped[lag:])[0, 1]) < 0.01
  other = make(tf.constant([8, 11], tf.uint32)).numpy().reshape(-1)
  assert abs(np.corrcoef(dropped, other < 6554)[0, 1]) < 0.01
