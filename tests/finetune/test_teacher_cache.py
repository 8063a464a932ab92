"""The teachers' cached outputs: padded to max_seq_length when written,
gathered by example index and cut to a batch's length when read."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import config_for

from finetune import teacher as teacher_lib
from finetune import teacher_cache


@pytest.mark.parametrize(
  "kind,shape,axis,fill",
  [("tagging", (2, 3, 4), 1, 0.0), ("qa", (2, 2, 3), 2, -1e4)],
)
def test_token_outputs_are_padded_on_their_token_axis(kind, shape, axis, fill):
  values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
  padded = teacher_cache._padded(values, kind, 5)
  assert padded.shape[axis] == 5
  np.testing.assert_array_equal(np.take(padded, [0, 1, 2], axis), values)
  assert (np.take(padded, [3, 4], axis) == fill).all()


def test_classification_outputs_are_not_padded():
  values = np.ones((2, 3), np.float32)
  assert teacher_cache._padded(values, "classification", 5) is values


@pytest.mark.parametrize(
  "kind,table_shape,expected_shape",
  [
    ("classification", (4, 3), (2, 3)),
    ("tagging", (4, 6, 3), (2, 4, 3)),
    ("qa", (4, 2, 6), (2, 2, 4)),
  ],
)
def test_gathered_rows_are_cut_to_the_batch_length(
  kind, table_shape, expected_shape
):
  table = np.arange(np.prod(table_shape), dtype=np.float32).reshape(table_shape)
  features = {
    "example_index": tf.constant([3, 1], tf.int64),
    "input_ids": tf.zeros([2, 4], tf.int32),  # a batch cut to 4 tokens
  }
  rows = teacher_cache.gathered(tf.constant(table), kind, features).numpy()
  assert rows.shape == expected_shape
  expected = table[[3, 1]]
  if kind == "tagging":
    expected = expected[:, :4]
  elif kind == "qa":
    expected = expected[:, :, :4]
  np.testing.assert_array_equal(rows, expected)


@pytest.mark.parametrize(
  "epochs,trials,setting,expected",
  [
    (1, 1, None, False),  # one pass: computing with each batch is faster
    (2, 1, None, True),
    (1, 3, None, True),  # the trials share the cache
    (3, 1, False, False),
    (1, 1, True, True),
  ],
)
def test_outputs_are_cached_when_the_training_set_is_read_twice(
  tmp_path, epochs, trials, setting, expected
):
  config = config_for(
    tmp_path, num_train_epochs=epochs, num_trials=trials,
    distillation={"cache_outputs": setting},
  )  # fmt: skip
  settings = config.distillation_settings()
  assert teacher_lib.caches_outputs(config, settings) is expected


def test_a_transformers_teacher_directory_is_stamped_by_its_files(tmp_path):
  records = tmp_path / "tnews_train.tfrecord"
  records.write_bytes(b"records")
  teacher = tmp_path / "hf_teacher"
  teacher.mkdir()
  (teacher / "config.json").write_text("{}")
  (teacher / "model.safetensors").write_bytes(b"weights")
  config = config_for(tmp_path, teacher_checkpoint=str(teacher))
  first = teacher_cache.cache_path(config, str(records))
  assert first.endswith(".npz") and first.startswith(
    str(tmp_path / "tnews_train")
  )
  (teacher / "model.safetensors").write_bytes(b"other weights")
  assert teacher_cache.cache_path(config, str(records)) != first
