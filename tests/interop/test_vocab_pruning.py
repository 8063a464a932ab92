"""The pure helpers of vocabulary pruning, on inputs checked by hand."""

import json

import numpy as np
import pytest

from interop import vocab_pruning
from model import tokenization

VOCAB = {"[PAD]": 0, "[UNK]": 1, "你": 2, "好": 3, "吗": 4, "##s": 5, "cat": 6}


def test_strings_skip_ids_labels_and_keywords_at_every_depth():
  row = {
    "id": "7",
    "sentence": "好",
    "label": "108",
    "keywords": "吗",
    "qas": [{"question": "你", "answers": [{"text": "好", "answer_start": 0}]}],
  }
  assert list(vocab_pruning.strings_in(row)) == ["好", "你", "好"]
  assert list(vocab_pruning.strings_in(row, ["question"])) == ["你"]
  # a named field's container is text all the way down
  assert list(vocab_pruning.strings_in(row, ["qas"])) == ["你", "好"]


def test_texts_of_each_file_layout(tmp_path):
  document = tmp_path / "squad.json"
  document.write_text(
    json.dumps({"data": [{"paragraphs": [{"context": "甲乙", "qas": []}]}]}),
    encoding="utf-8",
  )
  lines = tmp_path / "rows.json"
  # U+2028 inside a row is not a line break
  lines.write_text(
    '{"sentence": "丙\u2028丁", "label": "1"}\n\n{"sentence": "戊"}\n',
    encoding="utf-8",
  )
  plain = tmp_path / "plain.txt"
  plain.write_text("[不是 JSON\n己\t庚\n", encoding="utf-8")
  assert vocab_pruning.texts_of(str(document)) == ["甲乙"]
  assert vocab_pruning.texts_of(str(lines)) == ["丙\u2028丁", "戊"]
  assert vocab_pruning.texts_of(str(plain)) == ["[不是 JSON", "己\t庚"]


def test_kept_ids_keep_specials_and_the_most_frequent_in_old_order():
  counts = vocab_pruning.token_counts(
    [["吗", "好", "吗"], ["cat", "##s", "[UNK]", "吗"], ["not in vocab"]]
  )
  always = ("[PAD]", "[UNK]")
  assert vocab_pruning.kept_ids(VOCAB, counts, always) == [0, 1, 3, 4, 5, 6]
  # 吗 (3 times) first, then ties of one occurrence by old id, 好 (3)
  # before ##s (5) before cat (6); [UNK] is kept anyway and takes no place
  assert vocab_pruning.kept_ids(VOCAB, counts, always, keep_top=3) == [
    0, 1, 3, 4, 5,
  ]  # fmt: skip


def test_only_vocabulary_indexed_rows_are_gathered():
  vocab_rows = 7
  tensors = {
    "electra/embeddings/word_embeddings": np.arange(14.0).reshape(7, 2),
    "generator_predictions/output_bias": np.arange(7.0),
    "electra/embeddings/position_embeddings": np.zeros([7, 2]),
    "task_specific/t/dense/kernel": np.ones([2, 7]),
  }
  pruned = vocab_pruning.gather_rows(tensors, [0, 3, 6], vocab_rows)
  np.testing.assert_array_equal(
    pruned["electra/embeddings/word_embeddings"], [[0, 1], [6, 7], [12, 13]]
  )
  np.testing.assert_array_equal(
    pruned["generator_predictions/output_bias"], [0, 3, 6]
  )
  assert pruned["electra/embeddings/position_embeddings"].shape == (7, 2)
  assert pruned["task_specific/t/dense/kernel"].shape == (2, 7)


def test_a_texts_tokens_are_its_own_and_each_characters():
  # a WordPiece stand-in: a word is one token, "cats" two
  pieces = {"cats": ["cat", "##s"]}
  tokens_of = vocab_pruning.TextTokens(
    lambda text: [p for w in text.split() for p in pieces.get(w, [w])]
  )
  assert tokens_of("cats 好") == ["cat", "##s", "好"] + [
    "c",
    "a",
    "t",
    "s",
    "好",
  ]
  assert tokens_of.by_char[" "] == []


def test_dropped_counts_per_token_and_per_text():
  kept = {"你", "好", "[UNK]"}
  assert vocab_pruning.dropped_counts(
    [["你", "好"], ["吗", "吗", "[UNK]"], []], kept
  ) == (5, 2, 1)


@pytest.mark.parametrize("text", ["好猫", "cats"])
def test_kept_pieces_tokenize_the_source_texts_as_before(tmp_path, text):
  """Greedy longest match over the kept pieces gives the same tokens."""
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好", "猫", "ca"]
  vocab += ["cat", "##t", "##ts", "##s", "c", "##a"]
  full = tmp_path / "full.txt"
  full.write_text("\n".join(vocab) + "\n", encoding="utf-8")
  before = tokenization.FullTokenizer(str(full)).tokenize(text)
  ids = vocab_pruning.kept_ids(
    tokenization.load_vocab(str(full)),
    vocab_pruning.token_counts([before]),
    tokenization.REQUIRED_SPECIAL_TOKENS,
  )
  pruned = tmp_path / "pruned.txt"
  pruned.write_text("\n".join(vocab[i] for i in ids) + "\n", encoding="utf-8")
  assert tokenization.FullTokenizer(str(pruned)).tokenize(text) == before
  assert len(ids) < len(vocab)
