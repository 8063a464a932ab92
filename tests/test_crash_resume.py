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


def truncate(path):
  data = open(path, "rb").read()
  open(path, "wb").write(data[: len(data) // 2])


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
  import glob

  import run_pretraining

  data_dir = make_data_dir(tmp_path)
  model_dir = os.path.join(data_dir, "models", "crash")
  hparams = dict(HPARAMS, num_train_steps=10, keep_checkpoint_max=3)
  args = ["--data-dir", data_dir, "--model-name", "crash", "--hparams"]
  run_pretraining.main(args + [json.dumps(hparams)])
  newest = glob.glob(os.path.join(model_dir, "model.ckpt-10.data-*"))[0]
  truncate(newest)
  hparams["num_train_steps"] = 15
  done = subprocess.run(
    command(data_dir)[:-1] + [json.dumps(hparams)],
    capture_output=True, text=True, timeout=600,
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-2000:]
  assert "model.ckpt-10 cannot be read" in done.stdout
  assert "(step 5)" in done.stdout and "15/15 = 100.0%" in done.stdout
  # every checkpoint damaged: a clear stop, and nothing is deleted
  for path in glob.glob(os.path.join(model_dir, "model.ckpt-*.index")):
    truncate(path)
  before = sorted(os.listdir(model_dir))
  failed = subprocess.run(
    command(data_dir)[:-1] + [json.dumps(dict(hparams, num_train_steps=20))],
    capture_output=True, text=True, timeout=600,
  )  # fmt: skip
  assert failed.returncode == 2
  assert "no checkpoint in" in failed.stderr and "nothing was deleted" in (
    failed.stderr
  )
  assert sorted(os.listdir(model_dir)) == before


def write_reviews(root):
  """A small custom TSV task (train 96, dev 16, test 8)."""
  import random

  from test_run_finetuning import demo_sentences

  rng = random.Random(3)
  sentences = demo_sentences()
  data = root / "reviews"
  data.mkdir()
  for split, size in (("train", 96), ("dev", 16), ("test", 8)):
    rows = ["text\tlabel\tuid"] + [
      f"{rng.choice(sentences)}\t{['good', 'bad'][i % 2]}\tu{i}"
      for i in range(size)
    ]
    (data / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
  import shutil

  shutil.copy(os.path.join(ROOT, "demo", "vocab.txt"), root / "vocab.txt")
  return {
    "task_names": ["reviews"], "init_checkpoint": None, "vocab_size": 2244,
    "model_size": "small", "model_hparam_overrides": {
      "hidden_size": 36, "num_hidden_layers": 2, "num_attention_heads": 3,
      "intermediate_size": 52},
    "embedding_size": 20, "max_seq_length": 24, "train_batch_size": 8,
    "num_train_epochs": 3.0, "save_checkpoints_steps": 4, "log_every": 4,
    "write_test_outputs": True, "num_trials": 2,
    "custom_tasks": {"reviews": {
      "format": "tsv", "data_dir": str(data), "text_a": "text",
      "label": "label", "labels": ["bad", "good"], "id": "uid"}},
  }  # fmt: skip


def run_until(command_line, markers, env):
  """Starts the command; returns it once stdout printed the markers (in
  order)."""
  proc = subprocess.Popen(
    command_line, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    text=True, env=env,
  )  # fmt: skip
  waiting = list(markers)
  for line in proc.stdout:
    if waiting[0] in line:
      waiting.pop(0)
      if not waiting:
        return proc
  proc.wait()
  raise AssertionError(f"the run ended before printing {waiting[0]!r}")


def write_c3_questions(root):
  """C3 files (train 48 questions, test 6); the model of `write_reviews`."""
  sys.path.insert(0, os.path.join(ROOT, "tests", "finetune"))
  from choice_data import write_c3

  write_c3(root, sizes=(("train", 48), ("dev", 10)))
  hparams = write_reviews(root)
  del hparams["custom_tasks"]
  return dict(hparams, task_names=["c3"], save_checkpoints_steps=2, log_every=2)


def write_distilled_reviews(root):
  """The task of `write_reviews`, a teacher fine-tuned on it, and a
  narrower student taught its logits and (through a projection) its
  states."""
  hparams = write_reviews(root)
  teacher = dict(hparams, num_trials=1, num_train_epochs=1.0)
  subprocess.run(
    [sys.executable, os.path.join(ROOT, "run_finetuning.py"), "--data-dir",
     str(root), "--model-name", "teacher", "--hparams", json.dumps(teacher)],
    check=True, capture_output=True,
  )  # fmt: skip
  shape = ("model_size", "model_hparam_overrides", "embedding_size")
  return dict(
    hparams,
    teacher_checkpoint=str(
      root / "models" / "teacher" / "finetuning_models" / "reviews_model_1"
    ),
    teacher_hparams={key: hparams[key] for key in shape},
    model_hparam_overrides=dict(
      hparams["model_hparam_overrides"], hidden_size=24, num_hidden_layers=1
    ),
    distillation={
      "temperature": 2.0,
      "hard_label_weight": 1.0,
      "matches": [
        {"student_layer": 1, "teacher_layer": 2, "feature": "hidden"}
      ],
    },
  )


# per task type: (data writer, steps per epoch, test predictions file and
# its lines); each runs 3 epochs in 2 trials
RESUME_CASES = {
  "classification": (write_reviews, 12, "reviews_predict.json", 8),
  "multiple_choice": (write_c3_questions, 6, "c311_predict.json", 6),
  "distillation": (write_distilled_reviews, 12, "reviews_predict.json", 8),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_finetuning_resumes_after_kill_minus_nine(tmp_path, case):
  write, per_epoch, predictions, test_lines = RESUME_CASES[case]
  hparams = write(tmp_path)
  total = 3 * per_epoch
  command_line = [
    sys.executable, os.path.join(ROOT, "run_finetuning.py"),
    "--data-dir", str(tmp_path), "--model-name", "m",
    "--hparams", json.dumps(hparams),
  ]  # fmt: skip
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  # kill 1: right after the first epoch's last step, during its dev eval
  proc = run_until(command_line, [f"{per_epoch}/{total} = "], env)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  # kill 2: at a random moment of the second trial's second epoch
  second = per_epoch + hparams["log_every"]
  proc = run_until(command_line, ["Trial 2/2", f"{second}/{total} = "], env)
  time.sleep(random.Random(1).uniform(0.0, 0.5))
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  done = subprocess.run(
    command_line, capture_output=True, text=True, env=env, timeout=900
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert "Trial 1 finished earlier" in done.stdout
  assert "Resuming trial 2 at step" in done.stdout
  assert f"{total}/{total} = 100.0%" in done.stdout
  task = hparams["task_names"][0]
  results = json.load(
    open(tmp_path / "models" / "m" / "results" / f"{task}_results.json")
  )
  assert len(results["trials"]) == 2 and len(results["best"]) == 2
  assert [len(b["history"]) for b in results["best"]] == [3, 3]
  for trial in (1, 2):
    path = tmp_path / "models" / "m" / "test_predictions" / f"trial_{trial}"
    lines = open(path / predictions).read().splitlines()
    assert len(lines) == test_lines


@pytest.fixture
def small_disk(tmp_path):
  """A 64 MB tmpfs (needs root to mount; skipped otherwise)."""
  mount = tmp_path / "disk"
  mount.mkdir()
  made = subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
    capture_output=True,
  )
  if made.returncode:
    pytest.skip("cannot mount a small tmpfs here (needs root)")
  yield mount
  subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_fails_loudly_and_keeps_the_last_checkpoint(
  tmp_path, small_disk
):
  import shutil

  data_dir = make_data_dir(tmp_path)
  model_dir = small_disk / "model"
  hparams = dict(HPARAMS, num_train_steps=5, model_dir=str(model_dir))
  args = command(data_dir)[:-1]
  first = subprocess.run(args + [json.dumps(hparams)], capture_output=True)
  assert first.returncode == 0 and latest_step(str(model_dir)) == 5
  free = shutil.disk_usage(small_disk).free
  (small_disk / "filler").write_bytes(b"\0" * (free - 4096))
  hparams["num_train_steps"] = 10
  full = subprocess.run(
    args + [json.dumps(hparams)], capture_output=True, text=True, timeout=600
  )
  assert full.returncode != 0
  assert "could not write a checkpoint" in full.stderr
  assert "earlier checkpoints are intact" in full.stderr
  assert latest_step(str(model_dir)) == 5  # still listed and readable
  os.remove(small_disk / "filler")
  done = subprocess.run(
    args + [json.dumps(hparams)], capture_output=True, text=True, timeout=600
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert "(step 5)" in done.stdout and latest_step(str(model_dir)) == 10
