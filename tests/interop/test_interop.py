"""Checkpoint interoperability: TF1 layout in and out, SavedModel export."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_TINY_HPARAMS as HPARAMS

import configure_pretraining
import convert_checkpoint
import export_savedmodel
from conftest import ROOT
from conftest import shared_path
from interop import checkpoints
from interop import loading
from interop import writers
from model import tokenization
from pretrain import pretraining_model

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")


def build(hparams):
  config = configure_pretraining.PretrainingConfig("x", "/unused", **hparams)
  return pretraining_model.PretrainingModel(config)


def batch():
  rng = np.random.default_rng(0)
  ids = rng.integers(200, 2244, [3, 11]).astype(np.int32)
  mask = np.ones_like(ids)
  mask[1, 7:] = 0
  ids[:, 0] = 101
  return ids, mask, np.zeros_like(ids)


@pytest.mark.parametrize("key", ["clue_electra_tiny", "hfl_electra_small"])
def test_official_layout_loads_with_nothing_left_over(tmp_path, key):
  spec = json.load(open(shared_path("spec", "official_tf1_variables.json")))
  entry = spec[key]
  rng = np.random.default_rng(1)
  tensors = {
    n: rng.normal(size=s).astype(np.float32)
    for n, s in entry["variables"].items()
  }
  tensors["global_step"] = np.array(1000000, np.int64)
  prefix = str(tmp_path / "model.ckpt-1000000")
  names = sorted(tensors)
  tf.raw_ops.SaveV2(
    prefix=prefix,
    tensor_names=names,
    shape_and_slices=[""] * len(names),
    tensors=[tf.constant(tensors[n]) for n in names],
  )
  model = build(entry["hparams"])
  report = loading.init_from_checkpoint(model.official_variables(), prefix)
  assert report.missing == [] and report.unused == []
  assert len(report.loaded) == len(entry["variables"])
  word = model.official_variables()["electra/embeddings/word_embeddings"]
  np.testing.assert_array_equal(
    word.numpy(), tensors["electra/embeddings/word_embeddings"]
  )


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
  """A random model saved as one of our checkpoints."""
  tf.random.set_seed(3)
  model = build(HPARAMS)
  directory = tmp_path_factory.mktemp("ours")
  manager = tf.train.CheckpointManager(
    checkpoints.make_checkpoint(model.official_variables()), str(directory), 1
  )
  manager.save()
  return model, str(directory)


def logits_of(model):
  ids, mask, seg = batch()
  disc = model.discriminator_head(model.electra(ids, mask, seg, False))
  return disc.numpy()


def test_tf1_round_trip_gives_identical_outputs(ours, tmp_path):
  model, directory = ours
  prefix = str(tmp_path / "tf1" / "model.ckpt-7")
  convert_checkpoint.main(["--checkpoint", directory, "--output", prefix])
  keys = dict(tf.train.list_variables(prefix))
  assert "electra/encoder/layer_1/output/dense/kernel" in keys
  assert "generator_predictions/output_bias" in keys
  assert not any(k.startswith("model/") for k in keys)
  fresh = build(HPARAMS)
  report = loading.init_from_checkpoint(
    fresh.official_variables(), str(tmp_path / "tf1")
  )
  assert report.missing == [] and report.unused == []
  np.testing.assert_array_equal(logits_of(fresh), logits_of(model))


def export(directory, out, *flags):
  """``export_savedmodel.py --checkpoint D --hparams HPARAMS --output O``."""
  return export_savedmodel.main(
    ["--checkpoint", directory, "--hparams", json.dumps(HPARAMS)]
    + ["--output", out, *flags]
  )


@pytest.mark.slow
def test_savedmodel_signatures_match_the_model(ours, tmp_path):
  model, directory = ours
  out = str(tmp_path / "saved")
  names = export(directory, out)
  assert names == ["discriminator", "encoder", "generator"]
  loaded = tf.saved_model.load(out)
  ids, mask, seg = batch()
  args = dict(
    input_ids=tf.constant(ids),
    input_mask=tf.constant(mask),
    segment_ids=tf.constant(seg),
  )
  disc = loaded.signatures["discriminator"](**args)["logits"].numpy()
  np.testing.assert_allclose(disc, logits_of(model), atol=1e-6)
  positions = tf.constant([[1, 3], [2, 2], [4, 5]], tf.int32)
  gen = loaded.signatures["generator"](masked_lm_positions=positions, **args)[
    "logits"
  ].numpy()
  assert gen.shape == (3, 2, 2244)
  seq = loaded.signatures["encoder"](**{k: v[:2, :5] for k, v in args.items()})[
    "sequence_output"
  ]
  assert seq.shape == (2, 5, 36)  # dynamic batch and length
  with pytest.raises(FileExistsError, match="not empty"):
    export(directory, out)


@pytest.mark.slow
def test_classifier_export_with_text_signature(ours, tmp_path):
  model, directory = ours
  from finetune import heads

  tf.random.set_seed(4)
  head = heads.classification_head("task_specific/tnews", 36, 15)
  variables = {
    n: v
    for n, v in model.official_variables().items()
    if n.startswith("electra/")
  }
  variables.update({v.name[:-2]: v for v in head.variables})
  path = checkpoints.make_checkpoint(variables).write(
    str(tmp_path / "ft" / "model.ckpt")
  )
  out = str(tmp_path / "saved")
  names = export(
    path, out, "--vocab-file", DEMO_VOCAB, "--max-seq-length", "16"
  )
  assert names == ["classify", "classify_text", "encoder", "serving_default"]
  loaded = tf.saved_model.load(out)
  texts = ["今天天气很好，我们去公园散步吧。", "ELECTRA 模型"]
  from_text = loaded.signatures["classify_text"](text=tf.constant(texts))[
    "logits"
  ].numpy()
  tokenizer = tokenization.FullTokenizer(DEMO_VOCAB)
  expected = []
  for text in texts:
    ids = [101] + tokenizer.tokenize_to_ids([text])[0][:14] + [102]
    features = [
      tf.constant([ids]),
      tf.ones([1, len(ids)], tf.int32),
      tf.zeros([1, len(ids)], tf.int32),
    ]
    expected.append(head(model.electra(*features, False), False).numpy()[0])
  np.testing.assert_allclose(from_text, np.array(expected), atol=1e-5)
  by_ids = loaded.signatures["classify"](
    input_ids=tf.constant([[101, 300, 102]]),
    input_mask=tf.ones([1, 3], tf.int32),
    segment_ids=tf.zeros([1, 3], tf.int32),
  )["logits"]
  assert by_ids.shape == (1, 15)


@pytest.mark.slow
def test_continue_pretraining_from_a_tf1_checkpoint(ours, tmp_path, capsys):
  import run_pretraining
  from conftest import write_tfrecords

  _, directory = ours
  tf1 = str(tmp_path / "tf1" / "model.ckpt-9")
  writers.write_tf1_checkpoint(directory, tf1)
  data = tmp_path / "data"
  write_tfrecords(str(data / "pretrain_tfrecords"), vocab_size=2244)
  import shutil

  shutil.copy(DEMO_VOCAB, data / "vocab.txt")
  hparams = dict(
    HPARAMS,
    max_seq_length=17,
    train_batch_size=4,
    num_train_steps=2,
    init_checkpoint=tf1,
  )
  run_pretraining.main(
    [
      "--data-dir",
      str(data),
      "--model-name",
      "cont",
      "--hparams",
      json.dumps(hparams),
    ]
  )
  out = capsys.readouterr().out
  assert "Initialised" in out and "no Adam slots" in out
  assert "2/2 = 100.0%" in out
