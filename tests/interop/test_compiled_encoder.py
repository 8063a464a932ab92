"""The compiled single-request encoder: the branch each shape takes, and
outputs equal to the plain encoder's on every branch."""

import numpy as np
import pytest
import tensorflow as tf

from interop import compiled_encoder
from model import bert_config
from model import modeling

LENGTHS = [5, 8]


@pytest.mark.parametrize(
  "shape, branch",
  [
    ([1, 1], 0),
    ([1, 5], 0),  # exactly a compiled length
    ([1, 6], 1),
    ([1, 8], 1),
    ([1, 9], 2),  # longer than every compiled length: plain
    ([2, 3], 2),  # a batch: plain
    ([0, 3], 2),
  ],
)
def test_a_shape_takes_the_shortest_length_that_holds_it(shape, branch):
  index = compiled_encoder.branch_index(tf.constant(shape), LENGTHS)
  assert int(index) == branch


def test_lengths_are_checked_against_the_served_length():
  assert compiled_encoder.check_lengths([32, 16, 32], 64) == [16, 32]
  for bad in ([0], [65], [16, 1.5]):
    with pytest.raises(ValueError, match="--compiled-lengths"):
      compiled_encoder.check_lengths(bad, 64)


def test_every_branch_gives_the_plain_encoders_outputs():
  config = bert_config.BertConfig(
    vocab_size=23, hidden_size=14, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=18, max_position_embeddings=16,
  )  # fmt: skip
  encoder = modeling.BertModel(config)

  def plain(ids, mask, segments):
    return encoder(ids, mask, segments, False)

  spec = [tf.TensorSpec([None, None], tf.int32)] * 3
  fast = tf.function(compiled_encoder.bucketed(plain, LENGTHS), spec)
  reference = tf.function(plain, spec)
  rng = np.random.default_rng(3)
  for batch, length in [(1, 3), (1, 5), (1, 7), (1, 11), (3, 4)]:
    ids = tf.constant(rng.integers(1, 23, [batch, length]), tf.int32)
    mask = tf.ones_like(ids)
    segments = tf.constant(rng.integers(0, 2, [batch, length]), tf.int32)
    got = fast(ids, mask, segments)
    assert got.shape == [batch, length, 14]
    np.testing.assert_allclose(
      got, reference(ids, mask, segments), rtol=1e-5, atol=1e-5
    )
