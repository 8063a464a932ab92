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

import configure_pretraining  # noqa: E402
from pretrain import pretrain_helpers  # noqa: E402

# a vocabulary of 97 ids; 0 is padding
TINY_SPECIAL_IDS = pretrain_helpers.SpecialIds(cls_id=2, sep_id=3, mask_id=4)
TINY_HPARAMS = {
    "model_size": "small",
    "model_hparam_overrides": {"hidden_size": 36, "num_hidden_layers": 2,
                               "num_attention_heads": 3,
                               "intermediate_size": 52,
                               "max_position_embeddings": 24},
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
  return configure_pretraining.PretrainingConfig("test", "/nonexistent",
                                                 **hparams)


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
    segments[row, first + 1:length] = 1
  return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}


def shared_path(*parts):
  """A path under ../shared, or skip the test when it is absent."""
  path = os.path.join(SHARED, *parts)
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent (shared data is not part of the project)")
  return path
