"""The official-vs-ours comparison harness (benchmarks/compare_official.py).

The TF1 stand-ins are checked in a subprocess (they switch TensorFlow to
graph mode for the whole process). The end-to-end run needs a checkout of
google-research/electra named by ELECTRA_OFFICIAL_DIR, and skips without one.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT as PROJECT

BENCHMARKS = os.path.join(PROJECT, "benchmarks")
sys.path.insert(0, BENCHMARKS)

import compare_official  # noqa: E402

SHIM_CHECK = """
import sys, json
import numpy as np
sys.path.insert(0, {official!r})
import shims
shims.install()
import tensorflow.compat.v1 as tf
x = tf.constant(np.arange(12, dtype=np.float32).reshape(2, 2, 3))
with tf.variable_scope("head"):
  a = tf.layers.dense(x, 5, kernel_initializer=tf.ones_initializer())
  b = tf.layers.dense(a, 1, name=None)
  from tensorflow.contrib import layers
  n = layers.layer_norm(inputs=a, begin_norm_axis=-1, begin_params_axis=-1)
with tf.Session() as s:
  s.run(tf.global_variables_initializer())
  a_, n_ = s.run([a, n])
names = sorted(v.op.name for v in tf.global_variables())
print(json.dumps(dict(names=names, a=a_.tolist(), n=n_.tolist())))
"""


@pytest.mark.slow
def test_stand_ins_create_the_official_names_and_maths():
  code = SHIM_CHECK.format(
    official=os.path.join(PROJECT, "tests", "official_tf1")
  )
  out = subprocess.run(
    [sys.executable, "-c", code], capture_output=True, text=True, check=True
  )
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["names"] == [
    "head/LayerNorm/beta",
    "head/LayerNorm/gamma",
    "head/dense/bias",
    "head/dense/kernel",
    "head/dense_1/bias",
    "head/dense_1/kernel",
  ]
  x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
  a = np.repeat(x.sum(-1, keepdims=True), 5, -1)  # ones kernel, zero bias
  np.testing.assert_allclose(result["a"], a)
  # every row of a is constant: layer norm gives 0 (beta) everywhere
  np.testing.assert_allclose(result["n"], np.zeros_like(a), atol=1e-5)


def fake_seed(offset):
  metrics = {m: 0.5 + offset for m in compare_official.METRICS}
  return {"official": {"clean": metrics}, "ours": {"clean": dict(metrics)}}


def test_summary_gives_mean_and_sample_spread_per_run():
  per_seed = [fake_seed(0.0), fake_seed(0.1), fake_seed(0.2)]
  per_seed[1]["ours"]["clean"]["disc_loss"] = 0.9
  summary = compare_official.summarize(per_seed, "clean")
  assert summary["official"]["disc_loss"] == pytest.approx((0.6, 0.1))
  mean, std = summary["ours"]["disc_loss"]
  assert mean == pytest.approx((0.5 + 0.9 + 0.7) / 3)
  assert std == pytest.approx(np.std([0.5, 0.9, 0.7], ddof=1))
  table = compare_official.markdown_table(summary, 3, "clean")
  assert "| disc_loss | 0.6000 ± 0.1000 | 0.7000 ± 0.2000 |" in table


def test_variants_parse_name_and_hparams():
  variants = compare_official.parse_variants(
    ["ours={}", 'quirks={"official_masking_quirks": true}']
  )
  assert variants == {"ours": {}, "quirks": {"official_masking_quirks": True}}
  assert compare_official.parse_variants([]) == {"ours": {}}


@pytest.mark.slow
def test_official_and_ours_train_and_evaluate_side_by_side(tmp_path):
  official_dir = os.environ.get("ELECTRA_OFFICIAL_DIR")
  if not official_dir:
    pytest.skip("set ELECTRA_OFFICIAL_DIR to a google-research/electra tree")
  import build_pretraining_dataset

  demo = os.path.join(PROJECT, "demo")
  for name in ("train", "eval"):
    build_pretraining_dataset.main(
      [
        f"--corpus-dir={demo}/corpus",
        f"--vocab-file={demo}/vocab.txt",
        f"--output-dir={tmp_path}/{name}",
        "--max-seq-length=32",
      ]
    )
  os.symlink(f"{demo}/vocab.txt", f"{tmp_path}/vocab.txt")
  hparams = {
    "model_size": "base",
    "model_hparam_overrides": {
      "hidden_size": 36,
      "num_hidden_layers": 1,
      "num_attention_heads": 3,
      "intermediate_size": 52,
    },
    "embedding_size": 20,
    "vocab_size": 2244,
    "max_seq_length": 32,
    "train_batch_size": 4,
    "eval_batch_size": 4,
    "num_warmup_steps": 2,
    "num_train_steps": 6,
  }
  compare_official.main(
    [
      f"--official-dir={official_dir}",
      f"--data-dir={tmp_path}",
      f"--train-tfrecords={tmp_path}/train/*.tfrecord*",
      f"--eval-tfrecords={tmp_path}/eval/*.tfrecord*",
      f"--hparams={json.dumps(hparams)}",
      "--seeds",
      "1",
      "2",
      "--num-eval-steps=2",
      f"--out={tmp_path}/out",
    ]
  )
  with open(tmp_path / "out" / "results.json") as f:
    summary = json.load(f)["summary"]
  assert set(summary) == {"clean", "official_masking", "official_evaluator"}
  for mode in summary.values():
    assert set(mode) == {"official", "ours"}
    for run in mode.values():
      assert set(run) == set(compare_official.METRICS)


def test_payoff_starts_and_table():
  import pretraining_payoff as payoff

  assert payoff.parse_start("random") == ("random", None)
  assert payoff.parse_start("ours=m/ckpt-9") == ("ours", "m/ckpt-9")
  with pytest.raises(ValueError, match="expected 'random' or name=checkpoint"):
    payoff.parse_start("ours")
  summary = {"tnews": {"accuracy": {"mean": 35.5, "std": 0.125}}}
  table = payoff.markdown_table(
    {"random": {"summary": summary}}, "tnews", trials=2
  )
  assert table.splitlines()[-1] == "| random | 35.50 ± 0.12 |"


def test_representation_spread_on_hand_checked_vectors():
  import representation_spread

  same = np.array([[3.0, 4.0], [3.0, 4.0]])
  opposite = np.array([[3.0, 4.0], [-3.0, -4.0]])
  assert representation_spread.spread(same) == 0.0
  assert representation_spread.spread(opposite) == pytest.approx(1.0)


def test_bad_flags_are_named_before_any_work(tmp_path):
  base = [
    f"--data-dir={tmp_path}",
    f"--train-tfrecords={tmp_path}/none*",
    f"--eval-tfrecords={tmp_path}/none*",
    "--hparams={}",
    f"--out={tmp_path}/out",
  ]
  with pytest.raises(SystemExit, match="--official-dir .* run_pretraining.py"):
    compare_official.main([f"--official-dir={tmp_path}", *base])
  with pytest.raises(SystemExit, match="has no vocab.txt"):
    compare_official.main(base)
  (tmp_path / "vocab.txt").write_text("[PAD]\n")
  with pytest.raises(SystemExit, match="--train-tfrecords .* matches no file"):
    compare_official.main(base)
  assert not (tmp_path / "out").exists()


def test_payoff_names_a_missing_checkpoint_before_any_work(tmp_path):
  import pretraining_payoff as payoff

  args = [f"--data-dir={tmp_path}", "--task=tnews", "--hparams={}"]
  with pytest.raises(SystemExit, match="--start ours=.*no checkpoint at"):
    payoff.main([*args, f"--start=ours={tmp_path}/x", f"--out={tmp_path}/o"])
  with pytest.raises(SystemExit, match="has no .*finetuning_data/tnews"):
    payoff.main([*args, "--start=random", f"--out={tmp_path}/o"])
  assert not (tmp_path / "o").exists()
