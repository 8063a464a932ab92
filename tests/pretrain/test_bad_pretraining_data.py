"""Bad pretraining data: each a clear error naming the file, nothing lost."""

import os

import pytest
import tensorflow as tf

import configure_pretraining
from conftest import make_data_dir
from conftest import write_tfrecords
from pretrain import example_builder
from pretrain import pretrain_data
from pretrain import run as pretrain_run

HPARAMS = {
  "debug": True,
  "vocab_size": 97,
  "max_seq_length": 17,
  "num_train_steps": 4,
  "log_every": 2,
  "seed": 1,
}


def config_for(data_dir, **extra):
  return configure_pretraining.PretrainingConfig(
    "m", str(data_dir), **dict(HPARAMS, **extra)
  )


def write_records(path, records):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for record in records:
      writer.write(record)


@pytest.fixture
def data_dir(tmp_path):
  return make_data_dir(tmp_path)


def shard(data_dir, name="pretrain_data.tfrecord-9-of-9"):
  return os.path.join(data_dir, "pretrain_tfrecords", name)


def test_missing_feature(data_dir):
  features = tf.train.Features(
    feature={
      "input_ids": tf.train.Feature(
        int64_list=tf.train.Int64List(value=[2] * 17)
      )
    }
  )
  write_records(
    shard(data_dir), [tf.train.Example(features=features).SerializeToString()]
  )
  with pytest.raises(
    pretrain_data.InputDataError,
    match=r"tfrecord-9-of-9: records lack the feature "
    r"'input_mask'",
  ):
    pretrain_run.train_or_eval(config_for(data_dir))


def test_wrong_length(data_dir):
  with pytest.raises(
    pretrain_data.InputDataError,
    match=r"tfrecord-0-of-2: feature 'input_ids' has length "
    r"17 but hparam 'max_seq_length' is 32",
  ):
    pretrain_run.train_or_eval(config_for(data_dir, max_seq_length=32))


def test_ids_outside_the_vocabulary(data_dir):
  record = example_builder.serialize_example(
    [2, 500] + [3] * 15, [1] * 17, [0] * 17
  )
  write_records(shard(data_dir), [record])
  with pytest.raises(
    pretrain_data.InputDataError,
    match=r"tfrecord-9-of-9: token id 500 is outside the "
    r"vocabulary \(vocab_size 97\)",
  ):
    pretrain_run.train_or_eval(config_for(data_dir))


def test_garbage_file(data_dir):
  with open(shard(data_dir), "wb") as f:
    f.write(b"this is not a tfrecord file at all")
  with pytest.raises(
    pretrain_data.InputDataError,
    match=r"tfrecord-9-of-9: not a readable TFRecord",
  ):
    pretrain_run.train_or_eval(config_for(data_dir))


@pytest.mark.slow
def test_truncated_file_found_while_training(data_dir):
  path = write_tfrecords(
    os.path.join(data_dir, "pretrain_tfrecords"),
    num_files=1,
    per_file=40,
    seed=5,
  )[0]
  truncated = shard(data_dir, "pretrain_data.tfrecord-8-of-9")
  with open(path, "rb") as f:
    data = f.read()
  with open(truncated, "wb") as f:
    f.write(data[: len(data) * 2 // 3])  # the first records are intact
  with pytest.raises(
    pretrain_data.InputDataError,
    match=r"tfrecord-8-of-9: corrupted or truncated",
  ):
    pretrain_run.train_or_eval(config_for(data_dir, num_train_steps=60))


def test_model_dir_not_writable(data_dir, tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  config = config_for(data_dir, model_dir=str(blocker / "sub"))
  with pytest.raises(
    PermissionError, match="model_dir .*file/sub is not writable"
  ):
    pretrain_run.train_or_eval(config)


@pytest.mark.slow
def test_checkpoint_of_another_size_names_the_variable(data_dir):
  shape = {
    "hidden_size": 36,
    "num_hidden_layers": 1,
    "num_attention_heads": 3,
    "intermediate_size": 52,
  }
  pretrain_run.train_or_eval(
    config_for(
      data_dir,
      debug=False,
      num_train_steps=2,
      train_batch_size=4,
      model_hparam_overrides=shape,
    )
  )
  wider = dict(shape, hidden_size=48)
  hparams = dict(
    HPARAMS,
    debug=False,
    train_batch_size=4,
    model_hparam_overrides=wider,
    init_checkpoint=os.path.join(data_dir, "models", "m"),
  )
  # the checkpoint's model.json names both sizes before anything is built
  with pytest.raises(
    ValueError, match=r"hidden_size 48 \(the checkpoint has 36"
  ):
    configure_pretraining.PretrainingConfig("other", str(data_dir), **hparams)
  # a checkpoint that records nothing: the variable's shapes are compared
  os.remove(os.path.join(data_dir, "models", "m", "model.json"))
  os.remove(os.path.join(data_dir, "models", "m", "config.json"))
  other = configure_pretraining.PretrainingConfig(
    "other", str(data_dir), **hparams
  )
  with pytest.raises(
    ValueError,
    match=r"has [\w/]+ with shape \[36\], the "
    r"model's is \[48\]",
  ):
    pretrain_run.train_or_eval(other)
  assert not os.listdir(os.path.join(data_dir, "models", "other")) or (
    tf.train.latest_checkpoint(os.path.join(data_dir, "models", "other"))
    is None
  )
