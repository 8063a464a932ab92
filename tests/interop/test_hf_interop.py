"""transformers directories in and out, without torch: export, import in
every weights format, shapes from config.json, heads, and bad input."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from helpers import RUN
from helpers import SHAPE
from helpers import build
from helpers import finetuned_checkpoint
from helpers import load
from helpers import outputs
from helpers import rewrite_weights

import configure_finetuning
import configure_pretraining
import convert_checkpoint
from conftest import shared_path
from conftest import tiny_batch
from finetune import finetuning_model
from finetune import task_builder
from finetune import trial as trial_lib
from interop import hf_config
from interop import hf_export
from interop import loading
from interop import weight_files
from pretrain import pretraining_model


def test_export_writes_both_models_for_transformers(exported):
  assert sorted(os.listdir(exported)) == ["discriminator", "generator"]
  for name, arch in [
    ("discriminator", "ElectraForPreTraining"),
    ("generator", "ElectraForMaskedLM"),
  ]:
    files = sorted(os.listdir(os.path.join(exported, name)))
    assert "model.safetensors" in files and "vocab.txt" in files
    with open(os.path.join(exported, name, "config.json")) as f:
      config = json.load(f)
    assert (
      config["architectures"] == [arch] and config["model_type"] == "electra"
    )
  tensors = weight_files.read_safetensors(
    os.path.join(exported, "generator", "model.safetensors")
  )
  assert tensors["electra.embeddings_project.weight"][0].shape == (18, 20)
  assert not any(n.startswith("discriminator") for n in tensors)


def test_ours_to_transformers_and_back_gives_identical_logits(
  trained, exported
):
  spec = {
    "discriminator": os.path.join(exported, "discriminator"),
    "generator": os.path.join(exported, "generator"),
  }
  model, report = load(spec)
  assert report.missing == [] and report.unused == []
  for ours, back in zip(outputs(trained[0]), outputs(model)):
    np.testing.assert_array_equal(back, ours)


@pytest.mark.parametrize("fmt", ["bin", "h5", "shards"])
def test_every_weights_format_loads_the_same(trained, exported, tmp_path, fmt):
  target = str(tmp_path / fmt)
  rewrite_weights(os.path.join(exported, "discriminator"), target, fmt)
  model, report = load(target)
  assert report.unused == [] and report.fresh_groups() == ["generator"]
  np.testing.assert_array_equal(outputs(model)[0], outputs(trained[0])[0])


def test_config_json_gives_the_shape_vocab_and_casing(exported, tmp_path):
  directory = str(tmp_path / "disc")
  shutil.copytree(os.path.join(exported, "discriminator"), directory)
  with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
    json.dump({"do_lower_case": False}, f)
  config = configure_pretraining.PretrainingConfig(
    "m", "/data", init_checkpoint=directory, vocab_size=120, **RUN
  )
  assert config.model_hparam_overrides["num_attention_heads"] == 3
  assert config.embedding_size == 20 and config.vocab_size == 120  # user wins
  assert config.vocab_file == os.path.join(directory, "vocab.txt")
  assert config.do_lower_case is False
  tuned = configure_finetuning.FinetuningConfig(
    "m", "/data", init_checkpoint=directory, task_names=["tnews"], **RUN
  )
  assert tuned.model_hparam_overrides["intermediate_size"] == 52


def hfl_small_directory(root, spec_entry):
  """An HFL-small-shaped discriminator directory with random weights (and
  the position_ids buffer older uploads carry)."""
  rng = np.random.default_rng(0)
  tensors = {
    name: rng.normal(0, 0.02, shape).astype(np.float32)
    for name, shape in spec_entry["variables"].items()
    if name.startswith(("electra/", "discriminator_predictions/"))
  }
  state = hf_export.torch_state(tensors)
  state["electra.embeddings.position_ids"] = np.arange(512)[None].astype(
    np.int64
  )
  os.makedirs(root)
  weight_files.write_safetensors(state, os.path.join(root, "model.safetensors"))
  config = hf_config.hf_config(
    pretraining_model.PretrainingModel(
      configure_pretraining.PretrainingConfig("x", "", **spec_entry["hparams"])
    ).bert_config,
    128,
    "ElectraForPreTraining",
  )
  with open(os.path.join(root, "config.json"), "w") as f:
    json.dump(config, f)
  return root, tensors


def test_hfl_small_shaped_directory_loads_every_variable(tmp_path):
  with open(shared_path("spec", "official_tf1_variables.json")) as f:
    entry = json.load(f)["hfl_electra_small"]
  directory, tensors = hfl_small_directory(str(tmp_path / "hfl"), entry)
  model = build(init_checkpoint=directory)
  report = loading.init_from_checkpoint(model.official_variables(), directory)
  assert report.loaded == sorted(tensors) and report.unused == []
  assert all(n.startswith("generator") for n in report.missing)
  listing = report.summary(max_names=None)
  assert all(f"loaded: {name}" in listing for name in tensors)
  assert "generator: not in the checkpoint; initialised fresh" in listing


def numpy_gelu(x):
  from math import erf

  return x * 0.5 * (1.0 + np.vectorize(erf)(x / np.sqrt(2.0)))


def test_classifier_and_tagger_export_as_transformers_heads(trained, tmp_path):
  model, ckpt = finetuned_checkpoint(
    trained, str(tmp_path), ["tnews", "cluener"]
  )
  out = str(tmp_path / "hf")
  convert_checkpoint.convert(ckpt, out, "hf", SHAPE)
  assert sorted(os.listdir(out)) == ["cluener", "tnews"]
  with open(os.path.join(out, "tnews", "config.json")) as f:
    config = json.load(f)
  assert config["architectures"] == ["ElectraForSequenceClassification"]
  assert config["id2label"]["0"] == "100" and len(config["id2label"]) == 15
  state = {
    n: a
    for n, (a, _) in weight_files.read_safetensors(
      os.path.join(out, "tnews", "model.safetensors")
    ).items()
  }
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  sequence = model.electra(
    batch["input_ids"], batch["input_mask"], batch["segment_ids"], False
  )
  ours = model.heads["tnews"](sequence, False).numpy()
  cls = sequence.numpy()[:, 0]  # transformers' head, in numpy
  hidden = numpy_gelu(
    cls @ state["classifier.dense.weight"].T + state["classifier.dense.bias"]
  )
  theirs = (
    hidden @ state["classifier.out_proj.weight"].T
    + state["classifier.out_proj.bias"]
  )
  np.testing.assert_allclose(theirs, ours, atol=1e-5)
  with open(os.path.join(out, "cluener", "config.json")) as f:
    assert json.load(f)["architectures"] == ["ElectraForTokenClassification"]


def test_finetuning_from_a_transformers_classifier_skips_its_head(
  trained, tmp_path
):
  _, ckpt = finetuned_checkpoint(trained, str(tmp_path), ["tnews"])
  out = str(tmp_path / "hf")
  convert_checkpoint.convert(ckpt, out, "hf", SHAPE)
  config = configure_finetuning.FinetuningConfig(
    "m",
    "/nonexistent",
    task_names=["tnews"],
    init_checkpoint=os.path.join(out, "tnews"),
    **RUN,
  )
  model = finetuning_model.FinetuningModel(
    config, task_builder.get_tasks(config)
  )
  report = trial_lib.init_encoder(config, model)
  assert all(n.startswith("electra/") for n in report.loaded)
  assert len(report.loaded) == len(
    [n for n in model.official_variables() if n.startswith("electra/")]
  )
  assert sorted(report.unused) == [
    "classifier.dense.bias", "classifier.dense.weight",
    "classifier.out_proj.bias", "classifier.out_proj.weight",
  ]  # fmt: skip
