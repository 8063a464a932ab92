"""The quickstart demo (run_pretraining.py, no arguments) and learn_vocab."""

import json
import os
import shutil

import pytest

import configure_pretraining
import learn_vocab
import run_pretraining
from conftest import ROOT
from model import tokenization


@pytest.mark.slow
def test_demo_builds_its_data_then_trains_and_evaluates(
  tmp_path, capsys, monkeypatch
):
  demo = tmp_path / "demo"
  shutil.copytree(os.path.join(ROOT, "demo", "corpus"), demo / "corpus")
  shutil.copy(os.path.join(ROOT, "demo", "vocab.txt"), demo / "vocab.txt")
  monkeypatch.setattr(configure_pretraining, "DEFAULT_DATA_DIR", str(demo))
  hparams = json.load(open(configure_pretraining.DEFAULT_HPARAMS))
  hparams.update(num_train_steps=30, log_every=10, num_eval_steps=2)
  hparams_file = tmp_path / "demo_short.json"
  hparams_file.write_text(json.dumps(hparams))
  results = run_pretraining.main(["--hparams", str(hparams_file)])
  out = capsys.readouterr().out
  assert "Building the demo TFRecords" in out
  assert "30/30 = 100.0%" in out and "masked_lm_accuracy = " in out
  assert results["global_step"] == 30
  assert os.listdir(demo / "pretrain_tfrecords")
  assert os.path.isdir(demo / "models" / "electra_demo")


def test_defaults_point_at_the_bundled_demo():
  args = run_pretraining.parse_args([])
  assert args.data_dir == os.path.join(ROOT, "demo")
  assert args.hparams == [os.path.join(ROOT, "configs", "demo.json")]


def learn_demo_vocab(out, *flags):
  """``learn_vocab.py --corpus-dir demo/corpus --output OUT FLAGS``."""
  return learn_vocab.main(
    ["--corpus-dir", os.path.join(ROOT, "demo", "corpus"), "--output", str(out)]
    + list(flags)
  )


def test_learned_vocab_has_the_bert_layout(tmp_path):
  out = tmp_path / "vocab.txt"
  learn_demo_vocab(out, "--vocab-size", "600")
  vocab = tokenization.load_vocab(str(out))
  assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [
    0,
    100,
    101,
    102,
    103,
  ]
  assert "我" in vocab and "的" in vocab and "e" in vocab and "##a" in vocab
  with pytest.raises(FileExistsError, match="--overwrite"):
    learn_demo_vocab(out)


def test_compact_layout(tmp_path):
  out = tmp_path / "vocab.txt"
  learn_demo_vocab(out, "--vocab-size", "600", "--layout", "compact")
  lines = out.read_text(encoding="utf-8").splitlines()
  assert lines[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
