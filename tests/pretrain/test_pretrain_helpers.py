"""Masking, gather/scatter and sampling helpers on hand-checkable inputs."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_SPECIAL_IDS
from conftest import tiny_batch
from pretrain import pretrain_data
from pretrain import pretrain_helpers as ph

CLS, SEP, MASK = TINY_SPECIAL_IDS


def as_inputs(batch):
  return pretrain_data.features_to_inputs(
    {k: tf.constant(v) for k, v in batch.items()}
  )


def test_gather_positions_2d_and_3d():
  seq = tf.constant([[10, 11, 12, 13], [20, 21, 22, 23]])
  pos = tf.constant([[3, 0], [1, 1]])
  assert ph.gather_positions(seq, pos).numpy().tolist() == [[13, 10], [21, 21]]
  seq3 = tf.reshape(tf.range(2 * 4 * 3), [2, 4, 3])
  out = ph.gather_positions(seq3, pos).numpy()
  assert out.shape == (2, 2, 3)
  assert out[0, 0].tolist() == [9, 10, 11] and out[1, 1].tolist() == [
    15,
    16,
    17,
  ]


def test_scatter_update_ignores_position_zero():
  seq = tf.constant([[1, 2, 3, 4]])
  out, written = ph.scatter_update(
    seq, tf.constant([[7, 8]]), tf.constant([[0, 2]])
  )
  assert out.numpy().tolist() == [[1, 2, 8, 4]]
  assert written.numpy().tolist() == [[0, 0, 1, 0]]


def test_scatter_update_applies_a_duplicate_once():
  seq = tf.constant([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
  updates = tf.constant([[40, 41, 50], [60, 61, 62]])
  positions = tf.constant([[3, 3, 1], [4, 2, 4]])
  out, written = ph.scatter_update(seq, updates, positions)
  # the first update of a repeated position wins (not their average)
  assert out.numpy().tolist() == [[1, 50, 3, 40, 5], [6, 7, 61, 9, 60]]
  assert written.numpy().tolist() == [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]


def test_scatter_update_official_averaging_of_duplicates():
  seq = tf.constant([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
  updates = tf.constant([[40, 47, 50], [60, 61, 63]])
  positions = tf.constant([[3, 3, 1], [4, 2, 4]])
  out, written = ph.scatter_update(
    seq, updates, positions, average_duplicates=True
  )
  # (40 + 47) // 2 = 43 and (60 + 63) // 2 = 61: ids neither draw chose
  assert out.numpy().tolist() == [[1, 50, 3, 43, 5], [6, 7, 61, 9, 61]]
  assert written.numpy().tolist() == [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]
  floats, _ = ph.scatter_update(
    tf.zeros([1, 3, 2]),
    tf.constant([[[1.0, 2.0], [3.0, 5.0]]]),
    tf.constant([[2, 2]]),
    average_duplicates=True,
  )
  assert floats.numpy().tolist() == [[[0, 0], [0, 0], [2, 3.5]]]


def test_scatter_update_float_with_depth():
  seq = tf.zeros([1, 3, 2])
  out, written = ph.scatter_update(
    seq, tf.constant([[[1.0, 2.0], [3.0, 4.0]]]), tf.constant([[2, 2]])
  )
  assert out.numpy().tolist() == [[[0, 0], [0, 0], [1, 2]]]
  assert written.numpy().tolist() == [[0, 0, 1]]


def test_candidates_exclude_specials_and_padding():
  ids = tf.constant([[CLS, 9, MASK, 8, SEP, 0]])
  mask = tf.constant([[1, 1, 1, 1, 1, 0]])
  out = ph.get_candidates_mask(ids, mask, TINY_SPECIAL_IDS)
  assert out.numpy().tolist() == [[False, True, False, True, False, False]]
  disallow = tf.constant([[False, True, False, False, False, False]])
  out = ph.get_candidates_mask(ids, mask, TINY_SPECIAL_IDS, disallow)
  assert out.numpy().tolist() == [[False, False, False, True, False, False]]


def test_mask_counts_and_layout():
  batch = tiny_batch()
  inputs = as_inputs(batch)
  n = 3
  masked = ph.mask(inputs, 0.15, n, TINY_SPECIAL_IDS)
  lengths = batch["input_mask"].sum(-1)
  expected = np.maximum(1, np.minimum(n, np.round(lengths * 0.15)))
  np.testing.assert_array_equal(
    masked.masked_lm_weights.numpy().sum(-1), expected
  )
  positions = masked.masked_lm_positions.numpy()
  weights = masked.masked_lm_weights.numpy()
  assert (positions[weights == 0] == 0).all()
  assert (masked.masked_lm_ids.numpy()[weights == 0] == 0).all()
  ids = batch["input_ids"]
  for row in range(len(ids)):
    for pos, w in zip(positions[row], weights[row]):
      if w:
        assert (
          masked.masked_lm_ids.numpy()[row][list(positions[row]).index(pos)]
          == ids[row, pos]
        )


def test_mask_statistics_over_many_draws():
  tf.random.set_seed(11)
  batch = tiny_batch(batch_size=5, seq_len=17)
  inputs = as_inputs({k: np.tile(v, [200, 1]) for k, v in batch.items()})
  masked = ph.mask(inputs, 0.15, 3, TINY_SPECIAL_IDS)
  ids = inputs.input_ids.numpy()
  out_ids = masked.input_ids.numpy()
  positions = masked.masked_lm_positions.numpy()
  weights = masked.masked_lm_weights.numpy().astype(bool)
  rows = np.repeat(np.arange(len(ids))[:, None], 3, 1)
  chosen_orig = ids[rows[weights], positions[weights]]
  # never a special token or padding
  assert not np.isin(chosen_orig, [CLS, SEP, MASK, 0]).any()
  assert (
    inputs.input_mask.numpy()[rows[weights], positions[weights]] == 1
  ).all()
  # 85% of the (distinct) chosen positions become [MASK], 15% stay unchanged
  changed = out_ids != ids
  assert (out_ids[changed] == MASK).all()
  chosen = np.zeros_like(ids, bool)
  chosen[rows[weights], positions[weights]] = True
  share_masked = changed.sum() / chosen.sum()
  assert 0.80 < share_masked < 0.90
  # only chosen positions change
  assert not (changed & ~chosen).any()
  # duplicates happen (sampling with replacement) and are handled
  distinct = chosen.sum()
  assert distinct < weights.sum()


def test_mask_row_without_candidates_predicts_nothing():
  inputs = as_inputs(
    {
      "input_ids": np.array([[CLS, SEP, 0], [CLS, 7, SEP]]),
      "input_mask": np.array([[1, 1, 0], [1, 1, 1]]),
      "segment_ids": np.zeros([2, 3], np.int64),
    }
  )
  masked = ph.mask(inputs, 0.5, 2, TINY_SPECIAL_IDS)
  assert masked.masked_lm_weights.numpy()[0].tolist() == [0, 0]
  assert masked.masked_lm_positions.numpy()[1, 0] == 1
  assert masked.input_ids.numpy()[0].tolist() == [CLS, SEP, 0]


def test_unmask_restores_the_original():
  tf.random.set_seed(5)
  inputs = as_inputs(tiny_batch())
  masked = ph.mask(inputs, 0.3, 5, TINY_SPECIAL_IDS)
  restored = ph.unmask(masked)
  np.testing.assert_array_equal(
    restored.input_ids.numpy(), inputs.input_ids.numpy()
  )


def test_sample_from_softmax_follows_the_distribution():
  tf.random.set_seed(2)
  probs = np.array([0.1, 0.6, 0.3])
  logits = tf.math.log(tf.constant(np.tile(probs, [20000, 1]), tf.float32))
  samples = ph.sample_from_softmax(logits).numpy()
  freq = np.bincount(samples, minlength=3) / len(samples)
  np.testing.assert_allclose(freq, probs, atol=0.015)
  # a low temperature sharpens towards the argmax
  cold = ph.sample_from_softmax(logits, temperature=0.05).numpy()
  assert (cold == 1).mean() > 0.99


def test_sample_from_softmax_disallow():
  tf.random.set_seed(3)
  logits = tf.constant([[5.0, 0.0, 0.0]] * 1000)
  disallow = tf.one_hot([0] * 1000, 3)
  samples = ph.sample_from_softmax(logits, disallow=disallow).numpy()
  assert (samples != 0).all()
  assert set(samples.tolist()) == {1, 2}


@pytest.mark.parametrize(
  "mask_prob,seq_len,expected",
  [(0.15, 128, 19), (0.15, 512, 79), (0.25, 512, 130)],
)
def test_max_predictions_per_seq_rule(mask_prob, seq_len, expected):
  from conftest import tiny_config

  config = tiny_config(
    mask_prob=mask_prob, max_seq_length=seq_len, model_hparam_overrides={}
  )
  assert config.max_predictions_per_seq == expected


def test_sample_from_softmax_keeps_leading_dims():
  tf.random.set_seed(4)
  # [2, 3, 5]: each row certain of a different token
  ids = np.array([[0, 4, 2], [3, 1, 0]])
  logits = tf.one_hot(ids, 5, on_value=50.0, off_value=0.0)
  samples = ph.sample_from_softmax(logits).numpy()
  assert samples.shape == (2, 3) and samples.dtype == np.int32
  np.testing.assert_array_equal(samples, ids)


def test_sample_from_softmax_stays_in_the_vocabulary_on_nan_logits():
  logits = tf.constant([[np.nan] * 7, [0.0] * 6 + [50.0]])
  samples = ph.sample_from_softmax(logits).numpy()
  assert ((samples >= 0) & (samples < 7)).all() and samples[1] == 6


@pytest.mark.parametrize(
  "vocab_size,expected",
  [(21128, 152), (24, 6), (7, 3), (30522, 175), (1, 1), (2, 2)],
)
def test_block_size(vocab_size, expected):
  # the divisor nearest the square root from above, else ceil(sqrt) padded
  assert ph.block_size(vocab_size) == expected


def sample_in_blocks(logits):
  log_probs = tf.nn.log_softmax(logits)
  return ph.sample_in_blocks(log_probs, tf.exp(log_probs))


@pytest.mark.parametrize("vocab_size", [24, 7])  # blocks exact, then padded
def test_sample_in_blocks_follows_the_softmax(vocab_size):
  tf.random.set_seed(6)
  probs = np.arange(1, vocab_size + 1, dtype=np.float64)
  probs /= probs.sum()
  rows = 60000
  logits = tf.constant(np.tile(np.log(probs), [rows, 1]), tf.float32)
  samples = sample_in_blocks(logits).numpy()
  assert samples.shape == (rows,) and samples.dtype == np.int32
  counts = np.bincount(samples, minlength=vocab_size)
  assert len(counts) == vocab_size  # never a padded id
  # chi-square, vocab_size - 1 degrees of freedom: far below its 0.1% tail
  chi2 = ((counts - rows * probs) ** 2 / (rows * probs)).sum()
  assert chi2 < {24: 49.7, 7: 22.5}[vocab_size]


def test_sample_in_blocks_never_draws_an_impossible_id():
  # ids with -inf logits in every block but one, and in a padded block
  logits = np.full([500, 7], -np.inf, np.float32)
  logits[:, [1, 6]] = [0.0, 1.0]
  samples = sample_in_blocks(tf.constant(logits)).numpy()
  assert set(samples.tolist()) == {1, 6}


def test_sample_in_blocks_with_an_unknown_vocabulary_size():
  # traced without a static vocabulary size: one categorical draw instead
  spec = tf.TensorSpec([None, None], tf.float32)
  sample = tf.function(sample_in_blocks, input_signature=[spec])
  logits = np.full([500, 7], -np.inf, np.float32)
  logits[:, [1, 6]] = [0.0, 1.0]
  assert set(sample(tf.constant(logits)).numpy().tolist()) == {1, 6}
