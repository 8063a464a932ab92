"""kill -9 at random moments, then the same command: the run finishes."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import make_data_dir

HPARAMS = {
  "debug": True,
  "vocab_size": 97,
  "max_seq_length": 17,
  "num_train_steps": 400,
  "save_checkpoints_steps": 5,
  "log_every": 5,
  "num_warmup_steps": 5,
  "seed": 2,
  "keep_checkpoint_max": 2,
}


def command(data_dir):
  return [
    sys.executable,
    os.path.join(ROOT, "run_pretraining.py"),
    "--data-dir",
    data_dir,
    "--model-name",
    "crash",
    "--hparams",
    json.dumps(HPARAMS),
  ]


def latest_step(model_dir):
  latest = tf.train.latest_checkpoint(model_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else 0


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path):
  data_dir = make_data_dir(tmp_path)
  model_dir = os.path.join(data_dir, "models", "crash")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  rng = random.Random(0)
  steps_seen = []
  for _ in range(3):
    before = latest_step(model_dir)
    proc = subprocess.Popen(
      command(data_dir),
      stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL,
      env=env,
    )
    deadline = time.time() + 300
    while latest_step(model_dir) <= before and time.time() < deadline:
      time.sleep(0.1)  # wait until this run has saved a new checkpoint
    # then kill at a random moment: training, or writing the next checkpoint
    time.sleep(rng.uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps_seen.append(latest_step(model_dir))
  print("checkpoint steps after each kill:", steps_seen)
  assert 0 < steps_seen[0] < steps_seen[1] < steps_seen[2] < 400
  done = subprocess.run(
    command(data_dir), capture_output=True, text=True, env=env, timeout=600
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert latest_step(model_dir) == 400
  if steps_seen[-1]:
    assert f"(step {steps_seen[-1]})" in done.stdout
  assert "400/400 = 100.0%" in done.stdout
