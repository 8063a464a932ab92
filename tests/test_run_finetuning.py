"""End to end: pretrain a debug model, fine-tune it on all seven CLUE tasks,
and fine-tune a custom TSV task, with results and submission files."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf
from helpers import clue_row
from helpers import demo_sentences

import run_finetuning
import run_pretraining
from conftest import ROOT
from conftest import finetune_main
from finetune import clue_tasks
from finetune import regression

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")
TASK_LABELS = {
  "afqmc": ["0", "1"],
  "tnews": ["100", "101", "102"],
  "iflytek": ["0", "1", "2"],
  "cmnli": clue_tasks.NLI_LABELS,
  "ocnli": clue_tasks.NLI_LABELS,
  "cluewsc2020": ["true", "false"],
  "csl": ["0", "1"],
}
SPLIT_SIZES = {"train": 24, "dev": 12, "test": 10}


def write_clue_data(root):
  rng = random.Random(0)
  sentences = demo_sentences()
  for task, labels in TASK_LABELS.items():
    for split, size in SPLIT_SIZES.items():
      path = os.path.join(root, "finetuning_data", task, split + ".json")
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path, "w", encoding="utf-8") as f:
        for i in range(size):
          label = None if split == "test" else labels[i % len(labels)]
          f.write(
            json.dumps(
              clue_row(task, sentences, rng, label, i), ensure_ascii=False
            )
            + "\n"
          )


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """A debug ELECTRA pretrained for 4 steps on the demo corpus."""
  root = tmp_path_factory.mktemp("data")
  import shutil

  shutil.copy(DEMO_VOCAB, root / "vocab.txt")
  import build_pretraining_dataset

  build_pretraining_dataset.main(
    [
      "--corpus-dir",
      os.path.join(ROOT, "demo", "corpus"),
      "--vocab-file",
      DEMO_VOCAB,
      "--output-dir",
      str(root / "pretrain_tfrecords"),
      "--max-seq-length",
      "32",
    ]
  )
  run_pretraining.main(
    [
      "--data-dir",
      str(root),
      "--model-name",
      "debug",
      "--hparams",
      json.dumps(
        {
          "debug": True,
          "vocab_size": 2244,
          "max_seq_length": 32,
          "num_train_steps": 4,
        }
      ),
    ]
  )
  write_clue_data(root)
  return root


FINETUNE_HPARAMS = {
  "debug": True,
  "vocab_size": 2244,
  "max_seq_length": 32,
  "train_batch_size": 16,
  "num_train_epochs": 2.0,
  "log_every": 5,
}


@pytest.mark.slow
def test_all_seven_tasks_in_one_command(pretrained, capsys):
  hparams = dict(
    FINETUNE_HPARAMS, task_names=list(TASK_LABELS), write_test_outputs=True
  )
  results = finetune_main(pretrained, hparams, "debug")
  out = capsys.readouterr().out
  # the encoder: 5 embeddings + projection (2) + 3 layers x 16 variables
  assert "Initialised 55 variables from" in out
  assert set(results[0]) == set(TASK_LABELS)
  model_dir = pretrained / "models" / "debug"
  tasks = ",".join(TASK_LABELS)
  text = open(model_dir / "results" / f"{tasks}_results.txt").read()
  for task in TASK_LABELS:
    assert f"trial 1 {task}: accuracy: " in text
  saved = json.load(open(model_dir / "results" / f"{tasks}_results.json"))
  assert saved["summary"]["csl"]["accuracy"]["std"] == 0.0
  predictions = model_dir / "test_predictions" / "trial_1"
  names = {
    "afqmc_predict.json",
    "tnews11_predict.json",
    "iflytek_predict.json",
    "cmnli_predict.json",
    "ocnli_50k_predict.json",
    "cluewsc11_predict.json",
    "csl_predict.json",
  }
  assert set(os.listdir(predictions)) == names
  for task, name in zip(TASK_LABELS, sorted(names)):
    del task
    lines = open(predictions / name, encoding="utf-8").read().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == list(range(SPLIT_SIZES["test"]))
  tnews = [
    json.loads(line) for line in open(predictions / "tnews11_predict.json")
  ]
  assert {r["label"] for r in tnews} <= set(clue_tasks.TNEWS(None).label_list)


@pytest.mark.slow
def test_cached_tfrecords_are_reused_and_fresh_dirs_are_required(
  pretrained, capsys
):
  # debug mode never reuses cached data: give the debug shape explicitly
  hparams = dict(
    FINETUNE_HPARAMS,
    debug=False,
    task_names=["csl"],
    num_train_epochs=1.0,
    model_hparam_overrides={
      "hidden_size": 144,
      "num_hidden_layers": 3,
      "num_attention_heads": 4,
      "intermediate_size": 576,
    },
  )
  args = [
    "--data-dir",
    str(pretrained),
    "--model-name",
    "debug",
    "--hparams",
    json.dumps(hparams),
  ]
  trained = run_finetuning.main(args)
  assert "Wrote 24 train examples of ['csl'] (+8 padding" in (
    capsys.readouterr().out
  )
  # the same command again: the finished trial is not trained again
  assert run_finetuning.main(args) == trained
  assert "Trial 1 finished earlier" in capsys.readouterr().out
  # a model_dir holding something else is refused, and left alone
  other = hparams | {"model_dir": str(pretrained / "elsewhere")}
  os.makedirs(pretrained / "elsewhere_1")
  (pretrained / "elsewhere_1" / "notes.txt").write_text("mine")
  with pytest.raises(FileExistsError, match="elsewhere_1 already holds"):
    run_finetuning.main(args[:-1] + [json.dumps(other)])
  assert (pretrained / "elsewhere_1" / "notes.txt").read_text() == "mine"
  # predict-only: the fine-tuned trial directory names its checkpoint, and
  # restoring it (heads included) reproduces its dev results exactly
  hparams.update(
    do_train=False,
    init_checkpoint=str(
      pretrained / "models" / "debug" / "finetuning_models" / "csl_model_1"
    ),
  )
  results = run_finetuning.main(args[:-1] + [json.dumps(hparams)])
  assert "Wrote" not in capsys.readouterr().out.split("Trial 1/1")[1]
  assert results[0]["csl"] == trained[0]["csl"]


@pytest.mark.slow
def test_custom_tsv_task_without_code(tmp_path):
  data = tmp_path / "reviews"
  data.mkdir()
  rng = random.Random(1)
  sentences = demo_sentences()
  for split, size in (("train", 40), ("dev", 10), ("test", 6)):
    rows = ["review\tstars\tuid"]
    for i in range(size):
      rows.append(f"{rng.choice(sentences)}\t{['good', 'bad'][i % 2]}\tu{i}")
    (data / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
  import shutil

  shutil.copy(DEMO_VOCAB, tmp_path / "vocab.txt")
  hparams = dict(
    FINETUNE_HPARAMS,
    task_names=["reviews"],
    init_checkpoint=None,
    write_test_outputs=True,
    num_trials=2,
    keep_all_models=False,
    keep_best_checkpoint=True,
    custom_tasks={
      "reviews": {
        "format": "tsv",
        "data_dir": str(data),
        "text_a": "review",
        "label": "stars",
        "labels": "infer",
        "id": "uid",
      }
    },
  )
  results = finetune_main(tmp_path, hparams, "none")
  assert len(results) == 2
  # accuracy is a count of right answers over the dev rows, in %
  right = results[0]["reviews"]["accuracy"] * 10 / 100  # 10 dev rows
  assert right == pytest.approx(round(right), abs=1e-6)
  models = tmp_path / "models" / "none" / "finetuning_models"
  # trial 1's checkpoints removed (keep_all_models false) but not its
  # results; trial 2 keeps final and best
  assert sorted(os.listdir(models)) == ["reviews_model_1", "reviews_model_2"]
  assert os.listdir(models / "reviews_model_1") == ["trial_state.json"]
  assert os.path.exists(
    models / "reviews_model_2" / "best" / "model.ckpt.index"
  )
  out = tmp_path / "models" / "none" / "test_predictions" / "trial_1"
  rows = [json.loads(line) for line in open(out / "reviews_predict.json")]
  assert [r["id"] for r in rows] == [f"u{i}" for i in range(6)]
  assert {r["label"] for r in rows} <= {"bad", "good"}


def test_checkpoint_without_the_encoder_fails_clearly(tmp_path):
  ckpt = tf.train.Checkpoint(model={"something/else": tf.Variable(1.0)})
  path = ckpt.write(str(tmp_path / "other" / "model.ckpt"))
  import shutil

  shutil.copy(DEMO_VOCAB, tmp_path / "vocab.txt")
  write_clue_data(tmp_path)
  hparams = dict(
    FINETUNE_HPARAMS,
    task_names=["csl"],
    init_checkpoint=path,
    num_train_epochs=1.0,
  )
  with pytest.raises(ValueError, match="no variable of the encoder"):
    finetune_main(tmp_path, hparams, "x")


@pytest.mark.slow
def test_custom_regression_task_reports_correlations(tmp_path):
  """Sentence-pair similarity (0-5) from a TSV, as STS-B is scored."""
  data = tmp_path / "similarity"
  data.mkdir()
  rng = random.Random(2)
  sentences = demo_sentences()
  for split, size in (("train", 48), ("dev", 16), ("test", 4)):
    rows = ["first\tsecond\tscore"]
    for _ in range(size):
      a, b = rng.choice(sentences), rng.choice(sentences)
      if rng.random() < 0.4:
        b = a  # the same sentence: the most similar
      overlap = len(set(a) & set(b)) / len(set(a) | set(b))
      rows.append(f"{a}\t{b}\t{5 * overlap:.2f}")
    (data / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
  import shutil

  shutil.copy(DEMO_VOCAB, tmp_path / "vocab.txt")
  spec = {"type": "regression", "format": "tsv", "data_dir": str(data),
          "text_a": "first", "text_b": "second", "label": "score",
          "min_value": 0, "max_value": 5}  # fmt: skip
  hparams = dict(
    FINETUNE_HPARAMS,
    task_names=["similarity"],
    init_checkpoint=None,
    write_test_outputs=True,
    num_train_epochs=3.0,
    learning_rate=1e-3,
    custom_tasks={"similarity": spec},
  )
  results = finetune_main(tmp_path, hparams, "none")[0]["similarity"]
  assert list(results) == ["pearson", "spearman", "mse", "loss"]
  assert all(np.isfinite(v) for v in results.values())
  # the dev metrics are those of the written dev predictions against the
  # gold scores, on the label's own scale
  written = tmp_path / "models" / "none" / "results"
  written = written / "similarity_dev_predictions.json"
  predicted = [json.loads(line)["label"] for line in open(written)]
  gold = [float(r.split("\t")[2]) for r in (data / "dev.tsv").read_text(
    encoding="utf-8").strip().split("\n")[1:]]  # fmt: skip
  expected = regression.regression_metrics(gold, predicted)
  for metric, value in expected.items():
    assert results[metric] == pytest.approx(value, rel=1e-9), metric
  out = tmp_path / "models" / "none" / "test_predictions" / "trial_1"
  rows = [json.loads(line) for line in open(out / "similarity_predict.json")]
  assert len(rows) == 4 and all(isinstance(r["label"], float) for r in rows)
