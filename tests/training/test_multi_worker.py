"""MultiWorkerMirroredStrategy: two worker processes on localhost ports."""

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import make_data_dir

HPARAMS = {
  "debug": True,
  "vocab_size": 97,
  "max_seq_length": 17,
  "train_batch_size": 8,
  "save_checkpoints_steps": 3,
  "log_every": 3,
  "num_warmup_steps": 2,
  "seed": 3,
  "distribution_strategy": "multi_worker_mirrored",
}


def pretraining_command(data_dir, model_name, hparams):
  """``python run_pretraining.py`` with these flags, as a subprocess argv."""
  return [
    sys.executable,
    os.path.join(ROOT, "run_pretraining.py"),
    *("--data-dir", data_dir, "--model-name", model_name),
    *("--hparams", json.dumps(hparams)),
  ]


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(
  data_dir, steps, stdout=subprocess.PIPE, hparams=None, model_name="mw"
):
  """Two worker processes of one run, with TF_CONFIG on free local ports."""
  cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
  procs = []
  for index in range(2):
    env = dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL="2",
      TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}
      ),
    )
    procs.append(
      subprocess.Popen(
        pretraining_command(
          data_dir,
          model_name,
          dict(HPARAMS, num_train_steps=steps, **(hparams or {})),
        ),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
      )
    )
  return procs


def run_workers(data_dir, steps, timeout=300, **kwargs):
  procs = start_workers(data_dir, steps, **kwargs)
  outputs = []
  for proc in procs:
    out, err = proc.communicate(timeout=timeout)
    outputs.append((proc.returncode, out, err))
  return outputs


@pytest.mark.slow
def test_two_workers_train_checkpoint_on_the_chief_and_resume(tmp_path):
  data_dir = make_data_dir(tmp_path)
  model_dir = os.path.join(data_dir, "models", "mw")
  results = run_workers(data_dir, 6)
  for code, _, err in results:
    assert code == 0, err[-3000:]
  assert "6/6 = 100.0%" in results[0][1]
  state = tf.train.get_checkpoint_state(model_dir)
  assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == [
    "3",
    "6",
  ]
  # only the chief writes into model_dir (checkpoints, config, summaries)
  events = [f for f in os.listdir(model_dir) if f.startswith("events")]
  assert len(events) == 1
  results = run_workers(data_dir, 9)
  for code, _, err in results:
    assert code == 0, err[-3000:]
  assert "(step 6)" in results[0][1] and "(step 6)" in results[1][1]
  assert tf.train.latest_checkpoint(model_dir).endswith("model.ckpt-9")


@pytest.mark.slow
def test_a_lost_worker_ends_the_run_clearly_and_both_resume(tmp_path):
  import signal
  import time

  data_dir = make_data_dir(tmp_path)
  model_dir = os.path.join(data_dir, "models", "mw")
  procs = start_workers(data_dir, 100000, stdout=subprocess.DEVNULL)
  deadline = time.time() + 300
  while tf.train.latest_checkpoint(model_dir) is None and (
    time.time() < deadline
  ):
    time.sleep(0.2)
  procs[1].send_signal(signal.SIGKILL)
  _, err = procs[0].communicate(timeout=300)
  assert procs[0].returncode != 0
  assert "WorkerLostError: Lost contact with another worker" in err
  assert "Restart every worker with the same command" in err
  step = int(tf.train.latest_checkpoint(model_dir).rsplit("-", 1)[1])
  results = run_workers(data_dir, step + 3)
  for code, _, err in results:
    assert code == 0, err[-3000:]
  assert f"(step {step})" in results[0][1]


def run_single(data_dir, model_name, env, **hparams):
  done = subprocess.run(
    pretraining_command(
      data_dir,
      model_name,
      dict(HPARAMS, distribution_strategy="one_device", **hparams),
    ),
    capture_output=True,
    text=True,
    env=dict(os.environ, **env),
    timeout=300,
  )
  assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_workers_give_the_loss_of_one_worker(tmp_path):
  """The same weights, the same global batch (worker i reads file i; one
  worker interleaves both files) and deterministic masking: the eval
  metrics of two workers equal one worker's."""
  import shutil

  data_dir = make_data_dir(tmp_path)
  models = os.path.join(data_dir, "models")
  env = {
    "PYTHONPATH": os.path.join(ROOT, "tests", "deterministic_site"),
    "ELECTRA_ROOT": ROOT,
  }
  run_single(data_dir, "one", env, num_train_steps=1)
  shutil.copytree(os.path.join(models, "one"), os.path.join(models, "two"))
  evaluate = {
    "do_train": False,
    "do_eval": True,
    "num_eval_steps": 1,
    "eval_batch_size": 8,
  }
  run_single(data_dir, "one", env, num_train_steps=1, **evaluate)
  os.environ.update(env)
  try:
    results = run_workers(data_dir, 1, hparams=evaluate, model_name="two")
  finally:
    for key in env:
      del os.environ[key]
  for code, _, err in results:
    assert code == 0, err[-3000:]
  read = lambda name: json.load(
    open(os.path.join(models, name, "results", "unsup_results.json"))
  )
  one, two = read("one"), read("two")
  assert one["global_step"] == two["global_step"] == 1
  for name in (
    "loss",
    "masked_lm_loss",
    "masked_lm_accuracy",
    "disc_loss",
    "disc_accuracy",
    "disc_auc",
  ):
    assert two[name] == pytest.approx(one[name], rel=1e-5), name
