"""Cached fine-tuning records are reused only while everything that shaped
them is unchanged: hparams the tasks read, the data files, the vocabulary.
"""

import os

import pytest
import tensorflow as tf
from helpers import DEMO_VOCAB
from helpers import config_for
from helpers import write_cluener
from helpers import write_cmrc

from finetune import preprocessing
from finetune import task_builder
from model import tokenizers


def prepare(root, split="train", **hparams):
  """(record path, example count, the record file's mtime) of a split."""
  config = config_for(root, vocab_file=DEMO_VOCAB, **hparams)
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
  path, count = preprocessor.prepare(tasks, split, split == "train")
  return path, count, os.path.getmtime(path)


def test_another_tagging_scheme_rebuilds_the_records(tmp_path):
  write_cluener(str(tmp_path))
  run = dict(task_names=["cluener"], max_seq_length=24)
  _, _, first = prepare(tmp_path, tagging_scheme="BIO", **run)
  _, _, same = prepare(tmp_path, tagging_scheme="BIO", **run)
  assert same == first  # reused
  path, _, other = prepare(tmp_path, tagging_scheme="BIOES", **run)
  assert other != first
  # what was read back holds the BIOES ids (S- and E- tags exist only there)
  config = config_for(tmp_path, vocab_file=DEMO_VOCAB, tagging_scheme="BIOES")
  task = task_builder.get_task(config, "cluener")
  spec = {"cluener_labels": tf.io.FixedLenFeature([24], tf.int64)}
  labels = set()
  for record in tf.data.TFRecordDataset(path):
    parsed = tf.io.parse_single_example(record, spec)["cluener_labels"]
    labels |= set(parsed.numpy().tolist())
  assert any(task.tags[int(i)].startswith("E-") for i in labels)


def test_changed_data_file_rebuilds_the_records(tmp_path):
  write_cluener(str(tmp_path))
  run = dict(task_names=["cluener"], max_seq_length=24)
  _, count, first = prepare(tmp_path, **run)
  train = tmp_path / "finetuning_data" / "cluener" / "train.json"
  lines = train.read_text(encoding="utf-8").splitlines()
  train.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
  _, fewer, second = prepare(tmp_path, **run)
  assert second != first and fewer < count


@pytest.mark.parametrize(
  "change", [{"doc_stride": 8}, {"max_query_length": 4}, {"seed": 3}]
)
def test_qa_window_settings_rebuild_the_records(tmp_path, change):
  write_cmrc(tmp_path)
  run = dict(task_names=["cmrc2018"], max_seq_length=48, doc_stride=16)
  _, count, first = prepare(tmp_path, **run)
  _, again, second = prepare(tmp_path, **dict(run, **change))
  assert second != first
  if "doc_stride" in change:
    assert again > count  # a shorter stride makes more windows
