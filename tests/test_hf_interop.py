"""transformers directories in and out, without torch: export, import in
every weights format, shapes from config.json, heads, and bad input."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from test_hf_files import write_keras_h5
from torch_files import write_torch_zip

import configure_finetuning
import configure_pretraining
import convert_checkpoint
from conftest import TINY_HPARAMS
from conftest import shared_path
from conftest import tiny_batch
from conftest import write_vocab
from finetune import finetuning_model
from finetune import task_builder
from finetune import trial as trial_lib
from interop import checkpoints
from interop import hf_config
from interop import hf_export
from interop import loading
from interop import weight_files
from pretrain import pretraining_model

SHAPE = {
  k: TINY_HPARAMS[k] for k in hf_config.SHAPE_HPARAMS if k in TINY_HPARAMS
}
ENCODER_SHAPE = {k: v for k, v in SHAPE.items() if "generator" not in k}
RUN = {"max_seq_length": 17}
POSITIONS = np.array([[1, 2, 4]] * 5, np.int32)


def randomize(variables, seed):
  """Every variable random (LayerNorm gammas near 1), so that a swapped,
  untransposed or zero-initialised tensor shows in the logits."""
  rng = np.random.default_rng(seed)
  for name, var in sorted(variables.items()):
    noise = rng.normal(0, 0.1, var.shape.as_list()).astype(np.float32)
    var.assign(noise + (1.0 if name.endswith("gamma") else 0.0))


def build(**hparams):
  config = configure_pretraining.PretrainingConfig(
    "hf", "/nonexistent", **dict(RUN, **hparams)
  )
  return pretraining_model.PretrainingModel(config)


def outputs(model):
  """Discriminator logits [5, 17] and generator logits [5, 3, vocab]."""
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  args = (batch["input_ids"], batch["input_mask"], batch["segment_ids"])
  disc = model.discriminator_head(model.electra(*args, False))
  sequence = tf.gather(model.generator(*args, False), POSITIONS, batch_dims=1)
  gen = model.generator_head(sequence, model.generator.embedding_table)
  return disc.numpy(), gen.numpy()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(model, our checkpoint directory) of a random tiny model."""
  model = build(**SHAPE)
  randomize(model.official_variables(), seed=11)
  directory = str(tmp_path_factory.mktemp("ours"))
  tf.train.CheckpointManager(
    checkpoints.make_checkpoint(model.official_variables()), directory, 1
  ).save()
  return model, directory


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
  """Our checkpoint written as transformers directories (with a vocab)."""
  root = tmp_path_factory.mktemp("hf")
  vocab = write_vocab(str(root / "vocab.txt"))
  out = str(root / "out")
  convert_checkpoint.main(
    ["--checkpoint", trained[1], "--output", out, "--format", "hf",
     "--hparams", json.dumps(SHAPE), "--vocab-file", vocab]
  )  # fmt: skip
  return out


def load(spec, **hparams):
  """A model built from the hparams a spec implies, and its load report."""
  model = build(init_checkpoint=spec, **hparams)
  report = loading.init_from_checkpoint(model.official_variables(), spec)
  return model, report


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


def keras_name(torch_name, array):
  """transformers' TF name and layout of a PyTorch weight."""
  parts = torch_name.split(".")
  if "layer" in parts:  # layer.3 -> layer_._3
    index = parts.index("layer")
    parts[index : index + 2] = [f"layer_._{parts[index + 1]}"]
  if parts[-2] == "LayerNorm":
    parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
  elif parts[-2] in ("position_embeddings", "token_type_embeddings"):
    parts[-1] = "embeddings"
  elif parts[-1] == "weight" and "word_embeddings" not in parts:
    return "/".join(parts[:-1] + ["kernel"]), array.T
  return "/".join(parts), array


def rewrite_weights(source_dir, target_dir, fmt):
  """Copies a transformers directory with its weights in another format."""
  shutil.copytree(source_dir, target_dir)
  os.remove(os.path.join(target_dir, "model.safetensors"))
  state = {
    n: a
    for n, (a, _) in weight_files.read_safetensors(
      os.path.join(source_dir, "model.safetensors")
    ).items()
  }
  if fmt == "bin":
    write_torch_zip(os.path.join(target_dir, "pytorch_model.bin"), state)
  elif fmt == "h5":
    keras = dict(keras_name(n, a) for n, a in state.items())
    write_keras_h5(os.path.join(target_dir, "tf_model.h5"), keras)
  else:  # two safetensors shards and their index
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2]}
    shards["model-00002-of-00002.safetensors"] = names[1::2]
    weight_map = {}
    for shard, members in shards.items():
      weight_files.write_safetensors(
        {n: state[n] for n in members}, os.path.join(target_dir, shard)
      )
      weight_map.update({n: shard for n in members})
    with open(
      os.path.join(target_dir, "model.safetensors.index.json"), "w"
    ) as f:
      json.dump({"weight_map": weight_map}, f)


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


def finetuned_checkpoint(trained, directory, tasks):
  """Our fine-tuning checkpoint: the trained encoder plus random heads."""
  config = configure_finetuning.FinetuningConfig(
    "m", "/nonexistent", task_names=tasks, init_checkpoint=trained[1],
    **dict(ENCODER_SHAPE, max_seq_length=17),
  )  # fmt: skip
  model = finetuning_model.FinetuningModel(
    config, task_builder.get_tasks(config)
  )
  trial_lib.init_encoder(config, model)
  heads = {
    n: v for n, v in model.official_variables().items() if "task_specific" in n
  }
  randomize(heads, seed=5)
  checkpoints.make_checkpoint(model.official_variables()).write(
    os.path.join(directory, "ckpt")
  )
  return model, os.path.join(directory, "ckpt")


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
