"""The input pipeline: parsing, determinism, resuming without replaying."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_tfrecords
from pretrain import pretrain_data


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  return write_tfrecords(
    str(tmp_path_factory.mktemp("records")), num_files=3, per_file=20
  )


def batches(files, count, **kwargs):
  dataset = pretrain_data.make_dataset(files, 4, 17, True, **kwargs)
  return [b["input_ids"].numpy() for b in dataset.take(count)]


def test_batches_have_static_shapes_and_int32(files):
  batch = next(iter(pretrain_data.make_dataset(files, 4, 17, True, seed=1)))
  assert set(batch) == {"input_ids", "input_mask", "segment_ids"}
  assert batch["input_ids"].shape == (4, 17)
  assert batch["input_ids"].dtype == tf.int32


def test_same_seed_same_order(files):
  first = batches(files, 20, seed=7)
  again = batches(files, 20, seed=7)
  assert all((a == b).all() for a, b in zip(first, again))
  other = batches(files, 20, seed=8)
  assert not all((a == b).all() for a, b in zip(first, other))


def test_resuming_skips_exactly_the_consumed_examples(files):
  # 20 batches of 4 cross an epoch boundary of the 60 examples
  uninterrupted = batches(files, 20, seed=7)
  resumed = batches(files, 8, seed=7, skip_examples=12 * 4)
  for a, b in zip(uninterrupted[12:], resumed):
    np.testing.assert_array_equal(a, b)


def test_pattern_list_and_missing_files(files, tmp_path):
  pattern = ",".join(files[:2])
  assert pretrain_data.list_input_files(pattern) == sorted(files[:2])
  with pytest.raises(FileNotFoundError, match="matches no file"):
    pretrain_data.list_input_files(str(tmp_path / "none*"))


def test_each_pipeline_reads_its_own_files_without_duplicates(files):
  seen = []
  for pipeline in range(3):
    context = tf.distribute.InputContext(
      num_input_pipelines=3, input_pipeline_id=pipeline
    )
    dataset = pretrain_data.make_dataset(files, 20, 17, False, context)
    rows = [tuple(r) for r in next(iter(dataset))["input_ids"].numpy()]
    assert len(set(rows)) == len(rows)  # one reader per file: no repeats
    seen.append(set(rows))
  assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])
