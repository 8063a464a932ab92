"""Loading variables by official name from TF1-layout and our checkpoints."""

import numpy as np
import pytest
import tensorflow as tf

from interop import checkpoints
from interop import loading


def write_tf1_checkpoint(prefix, tensors):
  """A checkpoint whose keys are the variable names (the TF1 layout)."""
  names = sorted(tensors)
  tf.raw_ops.SaveV2(
    prefix=prefix,
    tensor_names=names,
    shape_and_slices=[""] * len(names),
    tensors=[tf.constant(tensors[n]) for n in names],
  )
  return prefix


def test_tf1_layout_loads_by_name(tmp_path):
  prefix = write_tf1_checkpoint(
    str(tmp_path / "model.ckpt-5"),
    {
      "electra/a/kernel": np.ones([2, 3], np.float32),
      "electra/a/kernel/adam_m": np.zeros([2, 3], np.float32),
      "global_step": np.array(5, np.int64),
      "generator/b": np.ones([4], np.float32),
    },
  )
  target = {
    "electra/a/kernel": tf.Variable(tf.zeros([2, 3])),
    "task_specific/t/dense/kernel": tf.Variable(tf.zeros([3, 2])),
  }
  report = loading.init_from_checkpoint(target, prefix)
  assert report.loaded == ["electra/a/kernel"]
  assert report.missing == ["task_specific/t/dense/kernel"]
  assert report.unused == ["generator/b"]
  np.testing.assert_array_equal(target["electra/a/kernel"].numpy(), 1.0)
  assert "Initialised 1 variables" in report.summary()


def test_shape_mismatch_names_the_variable_and_assigns_nothing(tmp_path):
  prefix = write_tf1_checkpoint(
    str(tmp_path / "c"),
    {
      "electra/embeddings/word_embeddings": np.ones([30522, 4], np.float32),
      "electra/x": np.ones([2], np.float32),
    },
  )
  target = {
    "electra/embeddings/word_embeddings": tf.Variable(tf.zeros([21128, 4])),
    "electra/x": tf.Variable(tf.zeros([2])),
  }
  with pytest.raises(
    ValueError,
    match=r"word_embeddings with shape \[30522, "
    r"4\], the model's is \[21128, 4\]",
  ):
    loading.init_from_checkpoint(target, prefix)
  assert target["electra/x"].numpy().sum() == 0


def test_our_checkpoints_and_path_forms(tmp_path):
  source = {"electra/a.b/kernel": tf.Variable([1.0, 2.0])}
  manager = tf.train.CheckpointManager(
    checkpoints.make_checkpoint(source), str(tmp_path), 3
  )
  path = manager.save()
  assert list(checkpoints.checkpoint_variables(path)) == ["electra/a.b/kernel"]
  for form in (str(tmp_path), str(tmp_path / "checkpoint"), path):
    target = {"electra/a.b/kernel": tf.Variable([0.0, 0.0])}
    loading.init_from_checkpoint(target, form)
    assert target["electra/a.b/kernel"].numpy().tolist() == [1.0, 2.0]
  with pytest.raises(FileNotFoundError, match="no checkpoint at"):
    checkpoints.resolve_checkpoint_path(str(tmp_path / "nothing"))
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
    checkpoints.resolve_checkpoint_path(str(empty))


def test_unescape():
  assert checkpoints.unescape("a.Sb..c.Sd") == "a/b.c/d"


def test_dense_heads_are_told_from_qa_heads():
  names = [
    "electra/embeddings/word_embeddings",
    "task_specific/tnews/dense/kernel",
    "task_specific/tnews/dense/bias",
    "task_specific/cmrc2018/dense/kernel",  # a QA head: dense, dense_1, ...
    "task_specific/cmrc2018/dense/bias",
    "task_specific/cmrc2018/dense_1/kernel",
    "task_specific/cmrc2018/qa_hidden/kernel",
  ]
  assert checkpoints.dense_heads(names) == {
    "tnews": "task_specific/tnews/dense/kernel"
  }
