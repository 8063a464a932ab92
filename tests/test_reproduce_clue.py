"""reproduce_clue.py end to end on a shrunken recipe, its resumption, and
its errors."""

import json
import os

import pytest
from helpers import clue_row
from helpers import demo_sentences

import reproduce_clue
from conftest import ROOT
from conftest import write_vocab

# the tiny shape shrunk further, so the whole recipe runs in a minute
SHRINK = {
  "model_hparam_overrides": {
    "hidden_size": 36,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 52,
  },
  "embedding_size": 36,
  "vocab_size": 2244,
  "num_train_steps": 6,
  "save_checkpoints_steps": 3,
  "num_eval_steps": 2,
}


def write_inputs(root):
  """A corpus, a vocab and two CLUE tasks of demo sentences."""
  import random

  rng = random.Random(0)
  sentences = demo_sentences()
  corpus = root / "corpus"
  corpus.mkdir()
  (corpus / "a.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
  for task, labels in (("tnews", ["100", "101"]), ("afqmc", ["0", "1"])):
    for split, size in (("train", 40), ("dev", 12)):
      path = root / "clue" / task / f"{split}.json"
      path.parent.mkdir(parents=True, exist_ok=True)
      rows = [
        clue_row(task, sentences, rng, labels[i % 2], i) for i in range(size)
      ]
      path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
        encoding="utf-8",
      )
  import shutil

  vocab = root / "vocab.txt"
  shutil.copy(os.path.join(ROOT, "demo", "vocab.txt"), vocab)
  return str(corpus), str(root / "clue"), str(vocab)


def args_for(root, corpus, clue, vocab):
  return [
    "--corpus-dir", corpus, "--clue-dir", clue, "--work-dir", str(root / "w"),
    "--vocab-file", vocab, "--budget", "smoke", "--tasks", "tnews,afqmc",
    "--hparams", json.dumps(SHRINK),
    "--finetune-hparams", json.dumps(
      {k: SHRINK[k] for k in ("model_hparam_overrides", "embedding_size",
                              "vocab_size")}
      | {"max_examples": {"train": 32, "dev": 12}, "num_train_epochs": 2.0}
    ),
  ]  # fmt: skip


@pytest.mark.slow
def test_the_recipe_runs_reports_and_resumes(tmp_path, capsys):
  args = args_for(tmp_path, *write_inputs(tmp_path))
  path = reproduce_clue.main(args)
  report = json.load(open(os.path.join(os.path.dirname(path), "report.json")))
  rows = report["finetuning"]
  assert sorted(rows) == ["afqmc", "tnews"]
  assert rows["tnews"]["published"]["ELECTRA-tiny"] == 54.28
  assert rows["tnews"]["examples"] == {"train": 32, "dev": 12}
  curve = report["stages"]["curve"]["result"]
  assert [p["global_step"] for p in curve] == [3, 6]
  text = open(path).read()
  assert "| tnews | 54.28 | 54.15 |" in text and "## Verdict" in text
  plots = report["plots"]
  if isinstance(plots, list):  # matplotlib installed
    for name in plots:
      assert os.path.getsize(os.path.join(os.path.dirname(path), name)) > 0
  else:
    assert "matplotlib is not installed" in text
  # a rerun after an interruption in fine-tuning: finished stages are
  # skipped, the interrupted one resumes (its finished trial is reused)
  os.remove(tmp_path / "w" / "stages" / "finetune_random_afqmc.json")
  capsys.readouterr()
  reproduce_clue.main(args)
  out = capsys.readouterr().out
  assert "Stage pretraining: done earlier, skipped" in out
  assert "Stage finetune_pretrained_tnews: done earlier, skipped" in out
  assert "Stage finetune_random_afqmc\n" in out
  assert "Trial 1 finished earlier; its results are reused" in out


def test_missing_inputs_are_named(tmp_path):
  corpus, clue, vocab = str(tmp_path), str(tmp_path), str(tmp_path / "v.txt")
  write_vocab(vocab)
  with pytest.raises(FileNotFoundError, match=r"tnews/train.json does not"):
    reproduce_clue.main(
      ["--corpus-dir", corpus, "--clue-dir", clue, "--work-dir",
       str(tmp_path / "w"), "--vocab-file", vocab, "--tasks", "tnews"]
    )  # fmt: skip


def test_domain_adaptive_corpus_is_the_tasks_text_without_labels(tmp_path):
  from recipes import clue

  _, clue_dir, _ = write_inputs(tmp_path)
  directory = clue.task_corpus(clue_dir, "afqmc", str(tmp_path / "dapt"))
  text = open(os.path.join(directory, "afqmc_train_text.txt")).read()
  documents = [d for d in text.split("\n\n") if d.strip()]
  assert len(documents) == 40  # one per training pair, two sentences each
  assert all(len(d.strip().split("\n")) == 2 for d in documents)
  assert '"label"' not in text and "sentence1" not in text


def test_multiple_choice_tasks_are_checked_by_their_own_files(tmp_path):
  import sys

  from recipes import clue
  from recipes import report

  sys.path.insert(0, os.path.join(ROOT, "tests", "finetune"))
  from choice_data import write_c3

  write_c3(tmp_path)
  clue_dir = str(tmp_path / "finetuning_data")
  files = clue.task_files(clue_dir, "c3", "dev")
  assert [os.path.basename(p) for p in files] == ["d-dev.json", "m-dev.json"]
  os.remove(os.path.join(clue_dir, "c3", "m-dev.json"))
  vocab = str(tmp_path / "v.txt")
  write_vocab(vocab)
  for task, missing in (("c3", "c3/m-dev.json does not"), ("chid", "none of")):
    with pytest.raises(FileNotFoundError, match=missing):
      reproduce_clue.main(
        ["--corpus-dir", clue_dir, "--clue-dir", clue_dir, "--work-dir",
         str(tmp_path / "w"), "--vocab-file", vocab, "--tasks", task]
      )  # fmt: skip
  assert report.published_cell({"RoBERTa-tiny": 54.15}, "ELECTRA-tiny") == (
    "not published"
  )
