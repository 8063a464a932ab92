"""Fine-tuning speed features: length bucketing (same predictions, in order,
less padding) and mixed precision."""

import json
import os
import random
import shutil

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_TINY_HPARAMS as HPARAMS
from helpers import demo_sentences
from helpers import mirrored

import configure_finetuning
from conftest import ROOT
from conftest import shared_path
from finetune import preprocessing
from finetune import task_builder
from finetune import trial as trial_lib
from finetune import trial_state
from model import layers
from model import tokenizers

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")
# the encoder of test_interop's tiny model (its vocab comes with the data)
ENCODER = {
  k: HPARAMS[k]
  for k in ("model_size", "embedding_size", "model_hparam_overrides")
}
TNEWS = {"max_seq_length": 64, "eval_batch_size": 7, "train_batch_size": 6}


def write_rows(root, task, rows_of_split):
  directory = os.path.join(root, "finetuning_data", task)
  os.makedirs(directory, exist_ok=True)
  for split, rows in rows_of_split.items():
    with open(os.path.join(directory, split + ".json"), "w") as f:
      f.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))


def tnews_rows(count, seed):
  """Titles of 1-4 demo sentences: lengths spread over several buckets."""
  rng, sentences = random.Random(seed), demo_sentences()
  return [
    {
      "sentence": "".join(rng.sample(sentences, rng.randint(1, 4))),
      "label": rng.choice(["100", "101", "102"]),
    }
    for _ in range(count)
  ]


def make_trial(data_dir, vocab_file, strategy=None, **hparams):
  """A built `Trial` (random init) and its dev TFRecord path."""
  shutil.copy(vocab_file, os.path.join(data_dir, "vocab.txt"))
  with open(vocab_file, encoding="utf-8") as f:
    vocab_size = sum(1 for _ in f)
  config = configure_finetuning.FinetuningConfig(
    "m", str(data_dir), init_checkpoint=None, vocab_size=vocab_size,
    **dict(ENCODER, **hparams),
  )  # fmt: skip
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
  strategy = strategy or tf.distribute.get_strategy()
  trial = trial_lib.Trial(config, tasks, preprocessor, strategy, 1, 10)
  record_path, _ = preprocessor.prepare(tasks, "dev", False)
  return trial, record_path


def predict_both_ways(trial, record_path):
  """(bucketed, unbucketed) dev outputs of the first task."""
  config, name = trial.config, trial.tasks[0].name
  outputs = []
  for bucketing in (True, False):
    config.bucket_by_length = bucketing
    outputs.append(trial.predict(record_path)[name])
  config.bucket_by_length = True
  return outputs


@pytest.fixture(scope="module")
def tnews(tmp_path_factory):
  root = tmp_path_factory.mktemp("tnews")
  write_rows(
    root, "tnews", {"train": tnews_rows(40, 0), "dev": tnews_rows(45, 1)}
  )
  return make_trial(root, DEMO_VOCAB, **TNEWS)


def row_lengths(record_path):
  return [
    sum(tf.train.Example.FromString(r.numpy()).features.feature["input_mask"]
        .int64_list.value)
    for r in tf.data.TFRecordDataset(record_path)
  ]  # fmt: skip


def test_eval_batches_keep_every_example_cut_to_the_longest(tnews):
  trial, record_path = tnews
  lengths = row_lengths(record_path)
  multiple = trial.config.bucket_multiple
  assert len(set(-(-n // multiple) for n in lengths)) >= 3  # several buckets
  seen = []
  for batch in trial.preprocessor.dataset(record_path, 7, False):
    width = batch["input_ids"].shape[1]
    longest = int(tf.reduce_max(tf.reduce_sum(batch["input_mask"], 1)))
    assert width == min(-(-longest // multiple) * multiple, 64)
    seen += batch["example_index"].numpy().tolist()
    for index, mask in zip(batch["example_index"].numpy(), batch["input_mask"]):
      assert int(tf.reduce_sum(mask)) == lengths[index]  # nothing cut off
  assert sorted(seen) == list(range(len(lengths)))


def test_training_batches_are_whole_and_mix_buckets(tnews):
  trial, _ = tnews
  path, _ = trial.preprocessor.prepare(trial.tasks, "train", True)
  widths = []
  for batch in trial.preprocessor.dataset(path, 6, True, seed=3).take(30):
    assert batch["input_ids"].shape[0] == 6
    widths.append(batch["input_ids"].shape[1])
  multiple = trial.config.bucket_multiple
  assert {w % multiple for w in widths} == {0} and max(widths) <= 64
  assert len(set(widths)) >= 2
  assert widths != sorted(widths)  # buckets interleave, not one after another


def test_bucketed_predictions_equal_unbucketed(tnews):
  bucketed, padded = predict_both_ways(*tnews)
  assert set(bucketed) == set(padded)
  np.testing.assert_array_equal(bucketed["eid"], np.arange(45))
  np.testing.assert_array_equal(bucketed["eid"], padded["eid"])
  np.testing.assert_allclose(bucketed["logits"], padded["logits"], atol=1e-4)


def test_real_tnews_dev_predictions_equal_unbucketed(tmp_path):
  dev = shared_path("data", "clue", "tnews", "dev.json")
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  directory = tmp_path / "finetuning_data" / "tnews"
  directory.mkdir(parents=True)
  shutil.copy(dev, directory / "dev.json")
  trial, record_path = make_trial(
    tmp_path, vocab, max_seq_length=128, max_examples={"dev": 300}
  )
  lengths = np.array(row_lengths(record_path))
  assert lengths.mean() < 0.5 * 128  # short titles: padding dominates
  bucketed, padded = predict_both_ways(trial, record_path)
  np.testing.assert_array_equal(bucketed["eid"], np.arange(300))
  np.testing.assert_allclose(bucketed["logits"], padded["logits"], atol=1e-4)


def cluener_rows(count, seed):
  rng, sentences = random.Random(seed), demo_sentences()
  rows = []
  for _ in range(count):
    text = "".join(rng.sample(sentences, rng.randint(1, 3)))[:60]
    rows.append({"text": text, "label": {"name": {text[:2]: [[0, 1]]}}})
  return rows


def test_tagging_outputs_are_padded_back_in_order(tmp_path):
  write_rows(tmp_path, "cluener", {"dev": cluener_rows(20, 2)})
  trial, record_path = make_trial(
    tmp_path, DEMO_VOCAB, task_names=["cluener"], max_seq_length=64,
    eval_batch_size=6,
  )  # fmt: skip
  bucketed, padded = predict_both_ways(trial, record_path)
  for name in ("predictions", "weights", "chars", "label_ids"):
    assert bucketed[name].shape == (20, 64)
  for name in ("weights", "chars", "label_ids"):
    np.testing.assert_array_equal(bucketed[name], padded[name])
  scored = padded["weights"] > 0  # predictions at padding are never read
  assert scored.sum() > 200
  np.testing.assert_array_equal(
    bucketed["predictions"][scored], padded["predictions"][scored]
  )


def test_undeclared_per_token_output_is_named():
  parts = {"example_index": [np.arange(2), np.arange(2, 4)]}
  parts["scores"] = [np.zeros([2, 16]), np.zeros([2, 32])]
  with pytest.raises(ValueError, match="'scores'.*token_outputs"):
    trial_lib._in_example_order(parts)


def test_pad_tokens_by_hand():
  values = np.array([[1, 2], [3, 4]])
  padded = trial_lib.pad_tokens(values, 4, -1)
  np.testing.assert_array_equal(padded, [[1, 2, -1, -1], [3, 4, -1, -1]])
  assert trial_lib.pad_tokens(values, 2, 0) is values


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_matches_float32(tnews, policy):
  trial32, record_path = tnews
  trial, _ = make_trial(
    trial32.config.data_dir, DEMO_VOCAB, mixed_precision=policy, **TNEWS
  )
  for name, variable in trial32.model.official_variables().items():
    trial.model.official_variables()[name].assign(variable)
  assert all(v.dtype == tf.float32 for v in trial.model.trainable_variables)
  assert (trial.optimizer.loss_scale is not None) == (policy == "mixed_float16")
  low = trial.predict(record_path)["tnews"]["logits"]
  full = trial32.predict(record_path)["tnews"]["logits"]
  assert low.dtype == np.float32
  np.testing.assert_allclose(low, full, atol=0.05)
  assert not np.allclose(low, full, atol=1e-6)  # it did compute in 16 bits


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mixed_float16", None])
def test_training_with_xla_over_bucketed_shapes(tnews, policy):
  data_dir = tnews[0].config.data_dir
  trial, _ = make_trial(
    data_dir, DEMO_VOCAB, jit_compile=True, mixed_precision=policy,
    do_eval=False, **TNEWS,
  )  # fmt: skip
  path, count = trial.preprocessor.prepare(trial.tasks, "train", True)
  before = trial.model.electra.embeddings.word_embeddings.numpy()
  steps = trial.train(path, count, trial_state.EpochTracker(trial.config))
  assert steps == trial.step == count // 6 * 3
  after = trial.model.electra.embeddings.word_embeddings.numpy()
  assert np.isfinite(after).all() and not np.array_equal(before, after)


@pytest.mark.slow
def test_bucketed_training_on_two_replicas_equals_one_device(
  tnews, monkeypatch
):
  """Each replica gets half of a bucketed batch; the summed gradients give
  the one-device update (dropout off, so both compute the same function)."""
  monkeypatch.setattr(layers, "dropout", lambda x, rate, training: x)
  trials = []
  for strategy in (mirrored(), tf.distribute.OneDeviceStrategy("/cpu:0")):
    trial, _ = make_trial(
      tnews[0].config.data_dir, DEMO_VOCAB, strategy=strategy,
      do_eval=False, num_train_epochs=1.0, **TNEWS,
    )  # fmt: skip
    for name, variable in trial.model.official_variables().items():
      if trials:  # the same initial weights
        variable.assign(trials[0][1][name])
    initial = {
      k: v.numpy() for k, v in trial.model.official_variables().items()
    }
    path, count = trial.preprocessor.prepare(trial.tasks, "train", True)
    trial.train(path, count, trial_state.EpochTracker(trial.config))
    trials.append((trial.model.official_variables(), initial))
  (two, start), (one, _) = trials
  for name, variable in two.items():
    assert not np.array_equal(variable.numpy(), start[name]), name
    np.testing.assert_allclose(
      variable.numpy(), one[name].numpy(), atol=2e-5, err_msg=name
    )


@pytest.mark.slow
def test_finetune_benchmark_prints_its_figures(tnews):
  import subprocess
  import sys

  hparams = {
    "model_size": "small",
    "vocab_size": 2244,
    "embedding_size": 20,
    "model_hparam_overrides": ENCODER["model_hparam_overrides"],
  }
  out = subprocess.run(
    [sys.executable, os.path.join(ROOT, "benchmarks", "finetune_throughput.py"),
     "--data-dir", tnews[0].config.data_dir, "--batch", "2", "--seq", "64",
     "--train-examples", "40", "--dev-examples", "20",
     "--hparams", json.dumps(hparams)],
    check=True, capture_output=True, text=True,
  ).stdout  # fmt: skip
  figures = json.loads(out.strip().splitlines()[-1])
  assert figures["train_steps"] == 20 and figures["dev_examples"] == 20
  assert 0 < figures["padding_fraction"] < 0.5
  assert figures["total_s"] >= figures["train_s"] > 0
