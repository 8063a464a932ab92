"""Shared fixtures: tiny odd-sized configs and hand-made batches."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

SHARED = os.path.join(os.path.dirname(ROOT), "shared")

import tensorflow as tf  # noqa: E402

# two logical CPUs, so that MirroredStrategy can be tested on one CPU
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
  _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import configure_pretraining  # noqa: E402
from pretrain import pretrain_helpers  # noqa: E402

# a vocabulary of 97 ids; 0 is padding
TINY_SPECIAL_IDS = pretrain_helpers.SpecialIds(cls_id=2, sep_id=3, mask_id=4)
TINY_HPARAMS = {
  "model_size": "small",
  "model_hparam_overrides": {
    "hidden_size": 36,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 52,
    "max_position_embeddings": 24,
  },
  "embedding_size": 20,
  "vocab_size": 97,
  "max_seq_length": 17,
  "train_batch_size": 5,
  "eval_batch_size": 5,
  "generator_hidden_size": 0.5,
  "num_warmup_steps": 0,
  "num_train_steps": 1000,
  "learning_rate": 3e-3,
}


def tiny_config(**overrides):
  """A small odd-sized `PretrainingConfig` (hidden 36, E 20, vocab 97)."""
  hparams = dict(TINY_HPARAMS)
  hparams.update(overrides)
  return configure_pretraining.PretrainingConfig(
    "test", "/nonexistent", **hparams
  )


def tiny_batch(batch_size=5, seq_len=17, vocab_size=97, seed=0):
  """[CLS] a.. [SEP] b.. [SEP] then padding, of varied lengths."""
  rng = np.random.default_rng(seed)
  ids = np.zeros([batch_size, seq_len], np.int32)
  mask = np.zeros_like(ids)
  segments = np.zeros_like(ids)
  for row in range(batch_size):
    length = seq_len - 2 * row if seq_len - 2 * row > 6 else 6
    first = length // 2
    ids[row, :length] = rng.integers(5, vocab_size, length)
    ids[row, 0] = TINY_SPECIAL_IDS.cls_id
    ids[row, first] = TINY_SPECIAL_IDS.sep_id
    ids[row, length - 1] = TINY_SPECIAL_IDS.sep_id
    mask[row, :length] = 1
    segments[row, first + 1 : length] = 1
  return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}


def shared_path(*parts):
  """A path under ../shared, or skip the test when it is absent."""
  path = os.path.join(SHARED, *parts)
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent (shared data is not part of the project)")
  return path


def write_vocab(path, size=97):
  """A vocab of ``size`` lines with [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4."""
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += [f"tok{i}" for i in range(size - len(tokens))]
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(tokens) + "\n")
  return path


def write_tfrecords(
  directory, num_files=2, per_file=24, seq_len=17, vocab_size=97, seed=0
):
  """Synthetic pretraining TFRecords (input_ids/input_mask/segment_ids)."""
  import tensorflow as tf

  os.makedirs(directory, exist_ok=True)
  paths = []
  for index in range(num_files):
    batch = tiny_batch(per_file, seq_len, vocab_size, seed + index)
    path = os.path.join(
      directory, f"pretrain_data.tfrecord-{index}-of-{num_files}"
    )
    with tf.io.TFRecordWriter(path) as writer:
      for row in range(per_file):
        feature = {
          name: tf.train.Feature(
            int64_list=tf.train.Int64List(value=batch[name][row].tolist())
          )
          for name in batch
        }
        writer.write(
          tf.train.Example(
            features=tf.train.Features(feature=feature)
          ).SerializeToString()
        )
    paths.append(path)
  return paths


def make_data_dir(root, seq_len=17, vocab_size=97):
  """A data dir laid out as the official code expects."""
  write_vocab(os.path.join(root, "vocab.txt"), vocab_size)
  write_tfrecords(
    os.path.join(root, "pretrain_tfrecords"),
    seq_len=seq_len,
    vocab_size=vocab_size,
  )
  return str(root)


def finetune_main(data_dir, hparams, model_name="m"):
  """``run_finetuning.py --data-dir D --model-name M --hparams JSON``."""
  import json

  import run_finetuning

  return run_finetuning.main(
    [
      "--data-dir",
      str(data_dir),
      "--model-name",
      model_name,
      "--hparams",
      json.dumps(hparams),
    ]  # fmt: skip
  )


# the official pretraining eval metrics (ELECTRA objective)
ELECTRA_METRICS = {
  "masked_lm_accuracy", "masked_lm_loss", "sampled_masked_lm_accuracy",
  "disc_loss", "disc_auc", "disc_accuracy", "disc_precision", "disc_recall",
  "loss",
}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(model, our checkpoint directory) of a random tiny model."""
  from helpers import SHAPE
  from helpers import build
  from helpers import randomize

  from interop import checkpoints

  model = build(**SHAPE)
  randomize(model.official_variables(), seed=11)
  directory = str(tmp_path_factory.mktemp("ours"))
  tf.train.CheckpointManager(
    checkpoints.make_checkpoint(model.official_variables()), directory, 1
  ).save()
  return model, directory


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
  """``trained``'s checkpoint written as transformers directories (with a
  vocab)."""
  import json

  from helpers import SHAPE

  import convert_checkpoint

  root = tmp_path_factory.mktemp("hf")
  vocab = write_vocab(str(root / "vocab.txt"))
  out = str(root / "out")
  convert_checkpoint.main(
    ["--checkpoint", trained[1], "--output", out, "--format", "hf",
     "--hparams", json.dumps(SHAPE), "--vocab-file", vocab]
  )  # fmt: skip
  return out
