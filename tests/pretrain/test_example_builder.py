"""Packing sentences into examples, as the official ExampleBuilder."""

import random

import numpy as np

from pretrain import example_builder

CLS, SEP = 101, 102


def build_many(num_docs=400, max_length=32, seed=0):
  rng = random.Random(seed)
  builder = example_builder.ExampleBuilder(
    CLS, SEP, max_length, random.Random(seed)
  )
  examples = []
  for _ in range(num_docs):
    for _ in range(rng.randint(2, 9)):
      sentence = [rng.randint(1000, 2000) for _ in range(rng.randint(3, 14))]
      example = builder.add_sentence(sentence)
      if example:
        examples.append(example)
    example = builder.end_document()
    if example:
      examples.append(example)
  return examples


def test_pack_by_hand():
  builder = example_builder.ExampleBuilder(CLS, SEP, 10)
  ids, mask, segments = builder.pack([5, 6], [7])
  assert ids == [CLS, 5, 6, SEP, 7, SEP, 0, 0, 0, 0]
  assert mask == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
  assert segments == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
  ids, mask, segments = builder.pack([5, 6, 7], [])
  assert ids == [CLS, 5, 6, 7, SEP, 0, 0, 0, 0, 0]
  assert segments == [0] * 10 and sum(mask) == 5


def test_examples_are_well_formed():
  examples = build_many()
  assert len(examples) > 300
  for ids, mask, segments in examples:
    ids, mask, segments = map(np.array, (ids, mask, segments))
    assert len(ids) == len(mask) == len(segments) == 32
    length = mask.sum()
    assert (mask[:length] == 1).all() and (mask[length:] == 0).all()
    assert (ids[length:] == 0).all() and (segments[length:] == 0).all()
    assert ids[0] == CLS and ids[length - 1] == SEP
    seps = np.flatnonzero(ids == SEP)
    assert len(seps) in (1, 2)
    if len(seps) == 2:  # [CLS] a [SEP] b [SEP]: b has segment 1
      assert (segments[: seps[0] + 1] == 0).all()
      assert (segments[seps[0] + 1 : length] == 1).all()
      assert seps[0] >= 2 and seps[1] > seps[0] + 1
    else:
      assert (segments == 0).all()
    assert not np.isin(
      ids[1 : length - 1][ids[1 : length - 1] != SEP], [CLS, 0]
    ).any()


def test_single_segment_share_is_about_ten_percent():
  # one long document of 2-token sentences: only the forced 10% end up with
  # a single segment
  builder = example_builder.ExampleBuilder(CLS, SEP, 32, random.Random(1))
  examples = [
    e for e in (builder.add_sentence([7, 8]) for _ in range(40000)) if e
  ]
  share = np.mean([sum(e[2]) == 0 for e in examples])
  assert len(examples) > 2500
  assert 0.08 < share < 0.12, share


def test_short_targets_happen():
  examples = build_many(num_docs=3000)
  lengths = np.array([sum(e[1]) for e in examples])
  assert (lengths < 20).mean() > 0.01
  assert lengths.max() == 32


def test_same_seed_same_examples():
  assert build_many(num_docs=50, seed=3) == build_many(num_docs=50, seed=3)
  assert build_many(num_docs=50, seed=3) != build_many(num_docs=50, seed=4)


def test_serialized_example_parses():
  import tensorflow as tf

  record = example_builder.serialize_example(
    [CLS, 5, SEP, 0], [1, 1, 1, 0], [0, 0, 0, 0]
  )
  from pretrain import pretrain_data

  parsed = pretrain_data.decode_record(tf.constant(record), 4)
  assert parsed["input_ids"].numpy().tolist() == [CLS, 5, SEP, 0]
  assert parsed["input_ids"].dtype == tf.int32
