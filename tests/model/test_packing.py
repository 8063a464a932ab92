"""The input packer (model/packing.py), in Python and in the graph."""

import random

import numpy as np
import pytest
import tensorflow as tf

from finetune import classification
from model import packing


def test_pack_by_hand():
  packed = packing.pack([7, 8], [9], cls_id=2, sep_id=3, max_length=8)
  assert packed["input_ids"] == [2, 7, 8, 3, 9, 3, 0, 0]
  assert packed["input_mask"] == [1, 1, 1, 1, 1, 1, 0, 0]
  assert packed["segment_ids"] == [0, 0, 0, 0, 1, 1, 0, 0]
  with pytest.raises(ValueError, match="9 tokens is longer than max_length 8"):
    packing.pack([7] * 4, [9] * 2, 2, 3, 8)


@pytest.mark.parametrize(
  "len_a,len_b,kept",
  [
    ((3, 4), None, (3, 4)),  # fits
    ((10, 2), None, (8, 2)),  # the short one stays whole
    ((2, 10), None, (2, 8)),
    ((10, 10), None, (5, 5)),
    ((10, 11), 9, (5, 4)),  # odd room: the first text gets the extra
  ],
)
def test_pair_lengths_by_hand(len_a, len_b, kept):
  room = len_b or 10
  a, b = packing.pair_lengths(
    tf.constant([len_a[0]]), tf.constant([len_a[1]]), room
  )
  assert (int(a[0]), int(b[0])) == kept


def test_graph_pair_packer_equals_the_python_one():
  """300 random pairs, a third without a second text, some empty."""
  rng = random.Random(0)
  firsts, seconds = [], []
  for _ in range(300):
    firsts.append([rng.randrange(5, 90) for _ in range(rng.randrange(30))])
    length = rng.choice([0, rng.randrange(30), rng.randrange(30)])
    seconds.append([rng.randrange(5, 90) for _ in range(length)])
  arrays = packing.pack_ragged_pair(
    tf.ragged.constant(firsts, tf.int32, ragged_rank=1),
    tf.ragged.constant(seconds, tf.int32, ragged_rank=1),
    2,
    3,
    17,
  )
  width = 17 - arrays[0].shape[1]
  ids, mask, segments = (
    np.pad(a.numpy(), [(0, 0), (0, width)]) for a in arrays
  )
  for row, (a, b) in enumerate(zip(firsts, seconds)):
    expected = classification.pack_pair(a, b, 2, 3, 17)
    assert ids[row].tolist() == expected["input_ids"], (a, b)
    assert mask[row].tolist() == expected["input_mask"]
    assert segments[row].tolist() == expected["segment_ids"]


def test_graph_single_packer_cuts_long_texts():
  ids, mask, segments = packing.pack_ragged(
    tf.ragged.constant([[5, 6, 7, 8, 9], [5]]), 2, 3, 5
  )
  assert ids.numpy().tolist() == [[2, 5, 6, 7, 3], [2, 5, 3, 0, 0]]
  assert mask.numpy().sum() == 8 and not segments.numpy().any()


def _padded(rows):
  ragged = tf.ragged.constant(rows, tf.int32, ragged_rank=1)
  lengths = tf.cast(ragged.row_lengths(), tf.int32)
  return ragged, ragged.to_tensor(0), lengths


@pytest.mark.parametrize("pair", [True, False])
def test_dense_packer_equals_the_ragged_one(pair):
  rng = random.Random(7)
  lengths = [0, 1, 2, 5, 9, 13, 20]
  first = [[rng.randrange(5, 90) for _ in range(rng.choice(lengths))]
           for _ in range(40)]  # fmt: skip
  second = [[rng.randrange(5, 90) for _ in range(rng.choice(lengths))]
            for _ in range(40)]  # fmt: skip
  ragged_a, dense_a, len_a = _padded(first)
  ragged_b, dense_b, len_b = _padded(second if pair else [[]] * 40)
  expected = packing.pack_ragged_pair(ragged_a, ragged_b, 2, 3, 11)
  got = packing.pack_dense(
    dense_a, len_a, dense_b if pair else None, len_b if pair else None,
    2, 3, 11,
  )  # fmt: skip
  for want, have in zip(expected, got):
    np.testing.assert_array_equal(have.numpy(), want.numpy())


def test_dense_packer_of_empty_texts():
  empty = tf.zeros([2, 0], tf.int32)
  ids, mask, segments = packing.pack_dense(
    empty, tf.zeros([2], tf.int32), empty, tf.zeros([2], tf.int32), 2, 3, 8
  )
  assert ids.numpy().tolist() == [[2, 3], [2, 3]]
  assert mask.numpy().tolist() == [[1, 1], [1, 1]]
  assert segments.numpy().tolist() == [[0, 0], [0, 0]]
