"""Sequence tagging: tags, spans, entity F1, CLUENER files, end to end."""

import json
import os

import numpy as np
import pytest
from helpers import write_cluener

import configure_finetuning
from conftest import ROOT
from conftest import finetune_main
from conftest import shared_path
from finetune import conll
from finetune import readers
from finetune import tagging
from finetune import task as task_lib
from finetune import task_builder
from model import tokenization

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")


def config_for(data_dir, **hparams):
  hparams.setdefault("task_names", ["cluener"])
  return configure_finetuning.FinetuningConfig("m", str(data_dir), **hparams)


def test_span_tags_bio_and_bioes():
  spans = [(0, 1, "name"), (3, 3, "game")]
  assert tagging.span_tags(5, spans, "BIO") == [
    "B-name",
    "I-name",
    "O",
    "B-game",
    "O",
  ]
  assert tagging.span_tags(5, spans, "BIOES") == [
    "B-name",
    "E-name",
    "O",
    "S-game",
    "O",
  ]


def test_nested_span_keeps_the_outer_one():
  tags = tagging.span_tags(6, [(0, 5, "book"), (1, 2, "company")], "BIO")
  assert tags == ["B-book"] + ["I-book"] * 5


def test_tags_to_spans_is_strict():
  assert tagging.tags_to_spans(["B-a", "I-a", "O", "I-b", "I-b", "B-a"]) == [
    (0, 1, "a"),
    (3, 4, "b"),
    (5, 5, "a"),
  ]
  assert tagging.tags_to_spans(["B-a", "I-b"]) == [(0, 0, "a"), (1, 1, "b")]
  assert tagging.tags_to_spans(["S-a", "B-b", "E-b", "E-b"]) == [
    (0, 0, "a"),
    (1, 2, "b"),
    (3, 3, "b"),
  ]


def test_entity_scorer_by_hand():
  task = conll.ConllTaggingTask(
    config_for("/x"), "t", {"data_dir": "/x", "entity_types": ["a", "b"]}
  )
  ids = lambda tags: np.array([task.tag_ids[t] for t in tags])
  # six characters; only the first four were fed (max_seq_length), so the
  # gold entity at 4-5 is missed, as the submission file misses it
  gold = ["B-a", "I-a", "O", "B-b", "B-b", "I-b"]
  example = task_lib.Example("t", 0, "甲乙丙丁戊己", label=gold, guid=0)
  scorer = task.get_scorer([example], None)
  scorer.update(
    {
      "eid": np.array([0]),
      "predictions": ids(["O", "B-a", "I-a", "O", "B-a", "O"])[None],
      "chars": np.array([[-1, 0, 1, 2, 3, -1]]),
    }
  )
  results = scorer.get_results()
  assert results["precision"] == 50.0
  assert results["recall"] == pytest.approx(100 / 3)
  assert results["f1"] == pytest.approx(40.0)
  assert results["a_f1"] == pytest.approx(200 / 3)
  assert results["b_f1"] == 0.0
  assert results["truncated"] == 1


def test_real_cluener_train_file(tmp_path):
  source = shared_path("data", "ner", "cluener")
  os.makedirs(tmp_path / "finetuning_data")
  os.symlink(source, tmp_path / "finetuning_data" / "cluener")
  task = task_builder.get_task(config_for(tmp_path), "cluener")
  examples = task.get_examples("train")
  assert len(examples) == 10748
  kinds = {t.split("-", 1)[1] for e in examples for t in e.label if t != "O"}
  assert kinds == set(tagging.CLUENER_TYPES)
  first = examples[0]
  assert first.label[9:12] == ["B-name", "I-name", "E-name"]  # BIOES
  assert len(task.get_examples("test")) == 1345


def test_characters_map_to_tokens_and_back(tmp_path):
  task = tagging.CLUENER(config_for(tmp_path, max_seq_length=12))
  tokenizer = tokenization.FullTokenizer(DEMO_VOCAB)
  from finetune import task as task_lib

  text = "我a\u200b爱北京"  # the zero-width space yields no token
  tags = tagging.span_tags(len(text), [(4, 5, "address")], "BIO")
  feature = task.featurize(
    [task_lib.Example("cluener", 0, text, None, tags)], tokenizer
  )[0]
  chars = feature["cluener_chars"]
  assert chars[:7] == [-1, 0, 1, 3, 4, 5, -1]
  labels = [task.tags[i] for i in feature["cluener_labels"]]
  assert labels[4:6] == ["B-address", "I-address"]
  assert feature["cluener_weights"][:7] == [0, 1, 1, 1, 1, 1, 0]


def test_bad_entity_type(tmp_path):
  path = tmp_path / "finetuning_data" / "cluener" / "train.json"
  os.makedirs(path.parent)
  path.write_text(
    json.dumps(
      {"text": "北京", "label": {"city": {"北京": [[0, 1]]}}},
      ensure_ascii=False,
    )
    + "\n",
    encoding="utf-8",
  )
  with pytest.raises(
    readers.DataFileError, match="line 1: unknown entity type 'city'"
  ):
    tagging.CLUENER(config_for(tmp_path)).get_examples("train")


@pytest.mark.slow
def test_cluener_end_to_end_with_submission(tmp_path):
  import shutil

  shutil.copy(DEMO_VOCAB, tmp_path / "vocab.txt")
  write_cluener(str(tmp_path))
  hparams = {
    "task_names": ["cluener"],
    "init_checkpoint": None,
    "debug": True,
    "vocab_size": 2244,
    "max_seq_length": 48,
    "train_batch_size": 8,
    "num_train_epochs": 3.0,
    "learning_rate": 3e-3,
    "write_test_outputs": True,
    "tagging_scheme": "BIOES",
  }
  results = finetune_main(tmp_path, hparams)
  assert set(results[0]["cluener"]) >= {"f1", "precision", "recall"}
  path = (
    tmp_path
    / "models"
    / "m"
    / "test_predictions"
    / "trial_1"
    / "cluener_predict.json"
  )
  rows = [json.loads(line) for line in open(path, encoding="utf-8")]
  assert [r["id"] for r in rows] == list(range(6))
  for row in rows:
    for kind, entities in row["label"].items():
      assert kind in tagging.CLUENER_TYPES
      for _, positions in entities.items():
        assert all(0 <= s <= e for s, e in positions)


@pytest.mark.slow
def test_custom_conll_task_without_code(tmp_path):
  import shutil

  shutil.copy(DEMO_VOCAB, tmp_path / "vocab.txt")
  data = tmp_path / "ner"
  data.mkdir()
  sentence = [("我", "O"), ("去", "O"), ("北", "B-loc"), ("京", "I-loc")]
  for split in ("train", "dev", "test"):
    block = "\n".join(f"{c} {t}" for c, t in sentence)
    (data / f"{split}.txt").write_text((block + "\n\n") * 12, encoding="utf-8")
  hparams = {
    "task_names": ["myner"],
    "init_checkpoint": None,
    "debug": True,
    "vocab_size": 2244,
    "max_seq_length": 16,
    "train_batch_size": 4,
    "num_train_epochs": 8.0,
    "learning_rate": 3e-3,
    "custom_tasks": {"myner": {"type": "tagging", "data_dir": str(data)}},
  }
  results = finetune_main(tmp_path, hparams)
  # one sentence, seen 96 times: the tagger must have learned it exactly
  assert results[0]["myner"]["loc_f1"] == 100.0
  assert results[0]["myner"]["f1"] == 100.0


def test_every_cluener_entity_survives_the_round_trip():
  """text -> tags -> entities gives back every gold entity, except the
  inner spans of the one nested case, which the outer (longer) span keeps."""
  path = shared_path("data", "ner", "cluener", "train.json")
  lost = []
  for line, row in readers.read_jsonl(path):
    spans = {
      (s, e, tagging.CLUENER_ALIASES.get(k, k))
      for k, entities in row["label"].items()
      for positions in entities.values()
      for s, e in positions
    }
    for scheme in tagging.SCHEMES:
      back = set(
        tagging.tags_to_spans(
          tagging.span_tags(len(row["text"]), spans, scheme)
        )
      )
      lost += [(line, scheme, span) for span in spans - back]
      assert back <= spans
  # the one nested case: a book title holding two company names, on one
  # line; the book span is kept, the two inner company spans are dropped
  assert len({line for line, _, _ in lost}) == 1
  assert sorted({span for _, _, span in lost}) == [
    (16, 19, "company"),
    (23, 26, "company"),
  ]


@pytest.mark.slow
def test_cluener_real_train_file_end_to_end(tmp_path):
  """A debug-size model on CLUENER's train file, with our own dev split
  carved from it (the released test split has no labels)."""
  import shutil

  path = shared_path("data", "ner", "cluener", "train.json")
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  shutil.copy(vocab, tmp_path / "vocab.txt")
  with open(path, encoding="utf-8") as f:
    lines = [line for line in f.read().split("\n") if line.strip()]
  out = tmp_path / "finetuning_data" / "cluener"
  os.makedirs(out)
  (out / "train.json").write_text(
    "\n".join(lines[:320]) + "\n", encoding="utf-8"
  )
  (out / "dev.json").write_text("\n".join(lines[-80:]) + "\n", encoding="utf-8")
  hparams = {
    "task_names": ["cluener"],
    "init_checkpoint": None,
    "debug": True,
    "vocab_size": 21128,
    "max_seq_length": 64,
    "train_batch_size": 16,
    "num_train_epochs": 2.0,
    "learning_rate": 1e-3,
  }
  results = finetune_main(tmp_path, hparams)
  cluener = results[0]["cluener"]
  assert "name_f1" in cluener
  p, r = cluener["precision"], cluener["recall"]
  assert cluener["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0)
