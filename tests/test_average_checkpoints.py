"""average_checkpoints.py and the directory writer it shares with
prune_model.py: the mean of the weights, refusals, nothing half-written."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import write_model

import average_checkpoints
from interop import averaging
from interop import model_record
from interop import writers


def test_the_mean_of_hand_made_tensors():
  got = averaging.mean_tensors(
    [
      {"w": np.array([1.0, 2.0], np.float32), "step": np.array(7)},
      {"w": np.array([2.0, 4.0], np.float32), "step": np.array(7)},
      {"w": np.array([6.0, 0.0], np.float32), "step": np.array(7)},
    ],
    ["a", "b", "c"],
  )
  np.testing.assert_array_equal(got["w"], [3.0, 2.0])
  assert got["w"].dtype == np.float32 and got["step"] == 7


@pytest.mark.parametrize(
  "first, other, message",
  [
    ({"w": np.zeros(2)}, {"w": np.zeros(3)}, r"w is \[2\] in a but \[3\] in b"),
    (
      {"w": np.zeros(2)},
      {"w": np.zeros(2), "v": np.zeros(1)},
      "v is only in b of a and b",
    ),
    (
      {"step": np.array(7)},
      {"step": np.array(8)},
      r"step \(integers\) differs",
    ),
  ],
)
def test_checkpoints_of_other_models_are_named(first, other, message):
  with pytest.raises(ValueError, match=message):
    averaging.mean_tensors([first, other], ["a", "b"])


def test_a_failed_write_leaves_nothing(tmp_path):
  def record(prefix):
    raise RuntimeError("disk full")

  with pytest.raises(RuntimeError, match="disk full"):
    writers.write_new_directory(
      str(tmp_path / "out"), {"w": np.ones(2, np.float32)}, {"a.txt": "x"},
      record,
    )  # fmt: skip
  assert os.listdir(tmp_path) == []


def test_averaged_weights_load_and_keep_the_record(tmp_path):
  paths = []
  for seed in (1, 2):
    path = str(tmp_path / f"m{seed}")
    write_model(path, seed=seed)
    paths.append(path)
  out = str(tmp_path / "mean")
  average_checkpoints.main(["--checkpoints", *paths, "--output", out])
  readers = [tf.train.load_checkpoint(p) for p in [*paths, out]]
  names = [
    n for n in readers[2].get_variable_to_shape_map() if n.startswith("model/")
  ]
  assert names
  for name in names:
    a, b, mean = (r.get_tensor(name) for r in readers)
    np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6, atol=1e-7)
  assert (
    model_record.read(out)[1]["shape"]
    == model_record.read(paths[0])[1]["shape"]
  )
  with open(os.path.join(out, "averaging.json")) as f:
    assert json.load(f)["sources"] == paths
  with pytest.raises(FileExistsError, match="exists"):
    average_checkpoints.average(paths, out)
  with pytest.raises(ValueError, match="two or more"):
    average_checkpoints.average(paths[:1], str(tmp_path / "one"))


def test_a_trials_epoch_checkpoints_share_its_records(tmp_path):
  """<trial>/steps/ holds no records of its own: the trial's describe it."""
  trial = str(tmp_path / "trial")
  write_model(trial, seed=1)
  write_model(str(tmp_path / "other"), seed=2)
  steps = os.path.join(trial, model_record.STEP_CHECKPOINTS)
  for step, source in ((1, trial), (2, str(tmp_path / "other"))):
    writers.write_tf2_checkpoint(
      source, os.path.join(steps, f"model.ckpt-{step}")
    )
  prefixes = [os.path.join(steps, f"model.ckpt-{s}") for s in (1, 2)]
  assert model_record.directory_of(prefixes[0]) == trial
  assert model_record.directory_of(str(tmp_path / "other")) == str(
    tmp_path / "other"
  )
  out = str(tmp_path / "mean")
  average_checkpoints.average(prefixes, out)
  assert (
    model_record.read(out)[1]["shape"] == model_record.read(trial)[1]["shape"]
  )
  assert os.path.exists(os.path.join(out, "vocab.txt"))
