"""End to end: train, stop, resume, evaluate (run_pretraining.py)."""

import json
import os
import re

import pytest

import configure_pretraining
import run_pretraining
from conftest import ELECTRA_METRICS
from conftest import make_data_dir
from pretrain import run as pretrain_run

RESULT_NAMES = ELECTRA_METRICS
DEBUG_HPARAMS = {
  "debug": True,
  "vocab_size": 97,
  "max_seq_length": 17,
  "num_warmup_steps": 5,
  "save_checkpoints_steps": 10,
  "log_every": 5,
  "seed": 1,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return make_data_dir(tmp_path_factory.mktemp("data"))


def run(data_dir, model_name="m", **hparams):
  args = [
    "--data-dir",
    data_dir,
    "--model-name",
    model_name,
    "--hparams",
    json.dumps(dict(DEBUG_HPARAMS, **hparams)),
  ]
  run_pretraining.main(args)


def checkpoint_steps(model_dir):
  import tensorflow as tf

  state = tf.train.get_checkpoint_state(model_dir)
  return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


@pytest.mark.slow
def test_train_resume_and_evaluate(data_dir, capsys):
  model_dir = os.path.join(data_dir, "models", "m")
  run(data_dir)
  out = capsys.readouterr().out
  assert "20/20 = 100.0%" in out and "ETA" in out and "disc:" in out
  assert checkpoint_steps(model_dir) == [10, 20]
  saved = json.load(open(os.path.join(model_dir, "config.json")))
  assert saved["num_train_steps"] == 20 and saved["debug"] is True

  run(data_dir, num_train_steps=40, do_eval=True)
  out = capsys.readouterr().out
  assert "(step 20)" in out
  assert "Skipping the 160 examples consumed by steps 1-20" in out
  # continued from 20, not restarted from 0
  assert re.search(r"^25/40", out, re.M) and not re.search(r"^5/40", out, re.M)
  assert checkpoint_steps(model_dir) == [10, 20, 30, 40]
  results_txt = os.path.join(model_dir, "results", "unsup_results.txt")
  text = open(results_txt).read()
  for name in RESULT_NAMES:
    assert f"{name} = " in text
  results = json.load(open(results_txt.replace(".txt", ".json")))
  assert results["global_step"] == 40
  # the text and JSON results carry the same numbers
  for name in RESULT_NAMES:
    assert f"{name} = {results[name]}" in text

  run(data_dir, num_train_steps=40)
  assert "nothing to do" in capsys.readouterr().out
  assert os.path.isdir(os.path.join(model_dir))  # never wiped


@pytest.mark.slow
def test_keep_checkpoint_max(data_dir):
  run(
    data_dir,
    model_name="keep1",
    keep_checkpoint_max=1,
    save_checkpoints_steps=5,
    num_train_steps=15,
  )
  model_dir = os.path.join(data_dir, "models", "keep1")
  assert checkpoint_steps(model_dir) == [15]
  assert len([f for f in os.listdir(model_dir) if ".index" in f]) == 1


@pytest.mark.slow
def test_the_checkpoint_directory_knows_its_shape(data_dir, tmp_path):
  """model.json beside the checkpoints: the exporter and the converter need
  no --hparams, and a contradicting shape is an error naming both."""
  import export_savedmodel

  run(data_dir, model_name="recorded", num_train_steps=5)
  model_dir = os.path.join(data_dir, "models", "recorded")
  record = json.load(open(os.path.join(model_dir, "model.json")))
  assert record["built_by"] == "run_pretraining.py"
  assert record["shape"]["hidden_size"] == 144  # the debug-mode model
  assert os.path.exists(os.path.join(model_dir, "vocab.txt"))
  names, report = export_savedmodel.export_savedmodel(
    {}, model_dir, str(tmp_path / "saved")
  )
  assert not report.missing and "discriminator" in names
  with pytest.raises(ValueError, match=r"hidden_size 64 \(the checkpoint"):
    export_savedmodel.export_savedmodel(
      {"model_hparam_overrides": {"hidden_size": 64}},
      model_dir,
      str(tmp_path / "other"),
    )


def test_pattern_matching_nothing_is_a_clear_error(tmp_path):
  config = configure_pretraining.PretrainingConfig(
    "m", str(tmp_path), **DEBUG_HPARAMS
  )
  with pytest.raises(FileNotFoundError, match="matches no file"):
    pretrain_run.train_or_eval(config)


def test_vocab_errors(tmp_path, data_dir):
  hparams = dict(
    DEBUG_HPARAMS,
    pretrain_tfrecords=os.path.join(data_dir, "pretrain_tfrecords", "*"),
  )
  config = configure_pretraining.PretrainingConfig(
    "m", str(tmp_path), **hparams
  )
  with pytest.raises(FileNotFoundError, match="vocab.txt does not exist"):
    pretrain_run.train_or_eval(config)
  (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n")
  with pytest.raises(
    ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"
  ):
    pretrain_run.train_or_eval(config)
  from conftest import write_tfrecords
  from conftest import write_vocab

  small = tmp_path / "small"
  write_tfrecords(str(small / "pretrain_tfrecords"), vocab_size=50)
  write_vocab(str(small / "vocab.txt"), 97)
  config = configure_pretraining.PretrainingConfig(
    "m", str(small), **dict(DEBUG_HPARAMS, vocab_size=50)
  )
  with pytest.raises(ValueError, match="has 97 tokens but hparam 'vocab_size'"):
    pretrain_run.train_or_eval(config)


def test_neither_train_nor_eval_is_rejected(data_dir):
  config = configure_pretraining.PretrainingConfig(
    "m", data_dir, **dict(DEBUG_HPARAMS, do_train=False)
  )
  with pytest.raises(ValueError, match="do_train"):
    pretrain_run.train_or_eval(config)


@pytest.mark.slow
def test_checkpoint_keys_carry_the_official_names(data_dir):
  from interop import checkpoints

  run(data_dir, model_name="names", num_train_steps=2)
  path = checkpoints.resolve_checkpoint_path(
    os.path.join(data_dir, "models", "names")
  )
  names = checkpoints.checkpoint_variables(path)
  assert "electra/encoder/layer_0/attention/self/query/kernel" in names
  assert "generator_predictions/output_bias" in names
  assert not any("adam" in n or "optimizer" in n for n in names)


@pytest.mark.slow
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(data_dir):
  import numpy as np
  import tensorflow as tf

  model_dir = os.path.join(data_dir, "models", "nan")
  with pytest.raises(
    FloatingPointError,
    match=r"at step 2 \(gen = .*loss = nan.*model.ckpt-1 is "
    r"kept",
  ):
    run(
      data_dir,
      model_name="nan",
      learning_rate=1e38,
      num_warmup_steps=0,
      save_checkpoints_steps=1,
      log_every=1,
      num_train_steps=5,
    )
  assert checkpoint_steps(model_dir) == [1]
  reader = tf.train.load_checkpoint(os.path.join(model_dir, "model.ckpt-1"))
  for name in reader.get_variable_to_shape_map():
    if reader.get_variable_to_dtype_map()[name].is_floating:
      assert np.isfinite(reader.get_tensor(name)).all(), name
