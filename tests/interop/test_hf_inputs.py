"""transformers directories: bad input (one-line errors naming the file),
pretraining and export from them, and bare encoders (no torch)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import RUN
from helpers import SHAPE
from helpers import build
from helpers import load
from helpers import outputs
from helpers import rewrite_weights

from conftest import ROOT
from conftest import tiny_batch
from interop import weight_files


def broken_directory(exported, tmp_path, damage):
  directory = str(tmp_path / damage)
  shutil.copytree(os.path.join(exported, "discriminator"), directory)
  weights = os.path.join(directory, "model.safetensors")
  if damage == "no weights":
    os.remove(weights)
  elif damage == "bert":
    with open(os.path.join(directory, "config.json")) as f:
      config = json.load(f)
    with open(os.path.join(directory, "config.json"), "w") as f:
      json.dump(dict(config, model_type="bert"), f)
  elif damage in ("bin", "h5"):
    rewrite_weights(
      os.path.join(exported, "discriminator"), directory + "2", damage
    )
    shutil.rmtree(directory)
    os.rename(directory + "2", directory)
    weights = os.path.join(
      directory, "pytorch_model.bin" if damage == "bin" else "tf_model.h5"
    )
  if damage in ("safetensors", "bin", "h5"):
    data = open(weights, "rb").read()
    open(weights, "wb").write(data[: len(data) * 2 // 3])
  return directory, weights


@pytest.mark.parametrize(
  "damage, message",
  [
    ("no weights", "holds no weights"),
    ("bert", "model_type 'bert'"),
    ("safetensors", "truncated"),
    ("bin", "pytorch_model.bin"),
    ("h5", "tf_model.h5"),
  ],
)
def test_bad_directories_are_one_line_errors_naming_the_file(
  exported, tmp_path, damage, message
):
  directory, weights = broken_directory(exported, tmp_path, damage)
  with pytest.raises(ValueError, match=message) as error:
    load(directory, **SHAPE)
  text = str(error.value)
  assert "\n" not in text
  assert (directory if damage in ("no weights", "bert") else weights) in text


def test_a_shape_that_does_not_match_the_hparams_names_both(exported):
  directory = os.path.join(exported, "discriminator")
  hparams = dict(SHAPE, embedding_size=24)
  with pytest.raises(
    ValueError,
    match=r"model.safetensors has electra/embeddings/\w+ with shape \[\d+, 20\]"
    r".* is \[\d+, 24\]",
  ):
    load(directory, **hparams)


def test_bad_init_checkpoint_dict_names_the_hparam(exported):
  with pytest.raises(ValueError, match="init_checkpoint must be"):
    build(init_checkpoint={"discriminator": exported, "teacher": exported})


@pytest.mark.slow
def test_the_command_line_prints_one_line_and_keeps_the_output(
  exported, tmp_path
):
  keep = tmp_path / "out"
  keep.mkdir()
  (keep / "mine.txt").write_text("precious")
  command = [
    sys.executable, os.path.join(ROOT, "convert_checkpoint.py"),
    "--checkpoint", os.path.join(exported, "discriminator"),
    "--output", str(keep), "--format", "hf",
  ]  # fmt: skip
  done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
  assert done.returncode == 2
  assert "Traceback" not in done.stderr
  lines = [line for line in done.stderr.splitlines() if ": error:" in line]
  assert lines == [
    f"convert_checkpoint.py: error: --output {keep} is not empty"
  ]
  assert (keep / "mine.txt").read_text() == "precious"


def discriminator_only_tf1(trained, prefix):
  """An official-layout checkpoint as Google released them: discriminator
  only, no Adam slots."""
  variables = trained[0].official_variables()
  names = sorted(
    n for n in variables if n.startswith(("electra/", "discriminator_"))
  )
  tf.raw_ops.SaveV2(
    prefix=prefix,
    tensor_names=names,
    shape_and_slices=[""] * len(names),
    tensors=[variables[n] for n in names],
  )
  return prefix


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["transformers", "tf1"])
def test_pretraining_continues_from_a_discriminator_only_checkpoint(
  trained, exported, tmp_path, capsys, kind
):
  import run_pretraining
  from conftest import make_data_dir

  os.makedirs(tmp_path / "data")
  data = make_data_dir(str(tmp_path / "data"))
  if kind == "transformers":  # shape and vocab come from the directory
    hparams = {"init_checkpoint": os.path.join(exported, "discriminator")}
  else:
    tf1 = discriminator_only_tf1(trained, str(tmp_path / "tf1" / "model.ckpt"))
    hparams = dict(SHAPE, init_checkpoint=tf1)
  hparams.update(RUN, train_batch_size=4, num_train_steps=2)
  run_pretraining.main(
    ["--data-dir", data, "--model-name", "m", "--hparams", json.dumps(hparams)]
  )
  out = capsys.readouterr().out
  assert "generator: not in the checkpoint; initialised fresh" in out
  assert "no Adam slots in the checkpoint; starting fresh" in out
  assert "2/2 = 100.0%" in out


@pytest.mark.slow
def test_savedmodel_export_of_a_transformers_directory(
  trained, exported, tmp_path
):
  import export_savedmodel

  names, report = export_savedmodel.export_savedmodel(
    {}, os.path.join(exported, "discriminator"), str(tmp_path / "saved")
  )
  assert names == ["discriminator", "encoder"] and report.unused == []
  loaded = tf.saved_model.load(str(tmp_path / "saved"))
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  logits = loaded.signatures["discriminator"](**batch)["logits"].numpy()
  np.testing.assert_allclose(logits, outputs(trained[0])[0], atol=1e-6)


def test_a_bare_electra_model_directory_loads_the_encoder(
  trained, exported, tmp_path
):
  """ElectraModel saves its weights without the "electra." prefix."""
  source = os.path.join(exported, "discriminator")
  directory = str(tmp_path / "bare")
  shutil.copytree(source, directory)
  state = weight_files.read_safetensors(
    os.path.join(source, "model.safetensors")
  )
  bare = {
    n[len("electra.") :]: a
    for n, (a, _) in state.items()
    if n.startswith("electra.")
  }
  weight_files.write_safetensors(
    bare, os.path.join(directory, "model.safetensors")
  )
  with open(os.path.join(directory, "config.json")) as f:
    config = dict(json.load(f), architectures=["ElectraModel"])
  with open(os.path.join(directory, "config.json"), "w") as f:
    json.dump(config, f)
  model, report = load(directory)
  assert report.unused == [] and report.fresh_groups() == [
    "generator",
    "discriminator head",
  ]
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  args = (batch["input_ids"], batch["input_mask"], batch["segment_ids"], False)
  np.testing.assert_array_equal(
    model.electra(*args).numpy(), trained[0].electra(*args).numpy()
  )
