"""Word ids in the pretraining records (build_pretraining_dataset.py
--word-segmentation): from spaces, from jieba, from Hugging Face's
run_chinese_ref.py files; bad input names the file and flag."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import tensorflow as tf

import build_pretraining_dataset
import run_pretraining
from conftest import ROOT
from pretrain import example_builder
from pretrain import pretrain_data
from pretrain import word_segmentation

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")
# pre-segmented lines (words of the demo vocabulary's characters)
SEGMENTED = [
  "清晨 六点 ， 小区 里 的 路灯 熄灭 了 。",
  "楼下 的 早点 铺 已经 支起 了 蒸笼 。",
  "",
  "老板娘 一边 招呼 客人 。",
]


def build(corpus_dir, output_dir, *extra):
  build_pretraining_dataset.main(
    ["--corpus-dir", str(corpus_dir), "--vocab-file", DEMO_VOCAB,
     "--output-dir", str(output_dir), "--max-seq-length", "24", *extra]
  )  # fmt: skip
  files = pretrain_data.list_input_files(
    os.path.join(str(output_dir), "pretrain_data.tfrecord-*")
  )
  examples = []
  for record in tf.data.TFRecordDataset(files):
    features = tf.train.Example.FromString(record.numpy()).features.feature
    examples.append(
      {k: np.array(v.int64_list.value) for k, v in features.items()}
    )
  return examples


def words_of(example):
  """The token ids of each word of an example, in order."""
  words = {}
  for token, word in zip(example["input_ids"], example["word_ids"]):
    if word >= 0:
      words.setdefault(word, []).append(int(token))
  assert sorted(words) == list(range(len(words)))  # numbered from 0
  return list(words.values())


def write_corpus(root, lines):
  corpus = root / "corpus"
  corpus.mkdir()
  (corpus / "a.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
  return corpus


def test_word_ids_by_hand():
  word_ids = example_builder.example_word_ids(
    [True, False, True], [True, True], 10
  )
  assert word_ids == [-1, 0, 0, 1, -1, 2, 3, -1, -1, -1]
  # one segment; a segment's first token always begins a word
  assert example_builder.example_word_ids([False, False], [], 5) == [
    -1, 0, 0, -1, -1,
  ]  # fmt: skip


def test_words_from_spaces_keep_the_ids_of_an_unsegmented_build(tmp_path):
  corpus = write_corpus(tmp_path, SEGMENTED)
  plain = build(corpus, tmp_path / "plain")
  worded = build(
    corpus, tmp_path / "words", "--word-segmentation", "whitespace"
  )
  assert "word_ids" not in plain[0]
  assert len(plain) == len(worded)
  for a, b in zip(plain, worded):
    for name in ("input_ids", "input_mask", "segment_ids"):
      np.testing.assert_array_equal(a[name], b[name])
    specials = np.isin(b["input_ids"], [101, 102]) | (b["input_mask"] == 0)
    assert ((b["word_ids"] == -1) == specials).all()
  # the words of the lines, each token of a word with its word's id
  vocab = open(DEMO_VOCAB, encoding="utf-8").read().split("\n")
  spelled = [
    "".join(vocab[t] for t in word)
    for example in worded
    for word in words_of(example)
  ]
  assert spelled[:5] == ["清晨", "六点", "，", "小区", "里"]
  assert set(spelled) <= set(" ".join(SEGMENTED).split())


def test_jieba_groups_the_characters_of_words(tmp_path):
  pytest.importorskip("jieba", reason="jieba is not installed")
  corpus = write_corpus(tmp_path, [line.replace(" ", "") for line in SEGMENTED])
  plain = build(corpus, tmp_path / "plain")
  worded = build(corpus, tmp_path / "jieba", "--word-segmentation", "jieba")
  for a, b in zip(plain, worded):
    np.testing.assert_array_equal(a["input_ids"], b["input_ids"])
  lengths = [len(w) for example in worded for w in words_of(example)]
  assert max(lengths) >= 3 and lengths.count(1) < len(lengths)


def test_reference_files_of_run_chinese_ref(tmp_path):
  corpus = write_corpus(tmp_path, ["清晨六点", "", "楼下的早点铺"])
  refs = tmp_path / "refs"
  refs.mkdir()
  # positions count [CLS] as 0: 晨 (2), 点 (4); 下 (2), 点 (5)
  (refs / "a.txt").write_text("[2, 4]\n[2, 5]\n", encoding="utf-8")
  examples = build(
    corpus, tmp_path / "out", "--word-segmentation", "ref", "--ref-dir",
    str(refs),
  )  # fmt: skip
  vocab = open(DEMO_VOCAB, encoding="utf-8").read().split("\n")
  spelled = [
    ["".join(vocab[t] for t in w) for w in words_of(e)] for e in examples
  ]
  assert spelled == [["清晨", "六点"], ["楼下", "的", "早点", "铺"]]


@pytest.mark.parametrize(
  "refs,message",
  [
    ("[2]\n", "has 1 reference lines but .* has 2 non-blank lines"),
    ("[2]\n[9]\n", "line 2: reference position 9 is past the line's 6"),
    ("[2]\nnot json\n", "line 2: not a JSON list"),
  ],
)
def test_bad_reference_files_are_errors_naming_them(tmp_path, refs, message):
  corpus = write_corpus(tmp_path, ["清晨六点", "楼下的早点铺"])
  (tmp_path / "refs").mkdir()
  (tmp_path / "refs" / "a.txt").write_text(refs, encoding="utf-8")
  with pytest.raises(ValueError, match=message):
    build(
      corpus, tmp_path / "out", "--word-segmentation", "ref", "--ref-dir",
      str(tmp_path / "refs"),
    )  # fmt: skip
  assert not os.path.exists(tmp_path / "out" / "manifest.json")


def test_segmentation_flags_that_do_not_go_together(tmp_path, monkeypatch):
  corpus = write_corpus(tmp_path, SEGMENTED)
  with pytest.raises(ValueError, match="--ref-dir goes with"):
    build(corpus, tmp_path / "a", "--word-segmentation", "whitespace",
          "--ref-dir", str(tmp_path))  # fmt: skip
  with pytest.raises(FileNotFoundError, match="reference file"):
    build(corpus, tmp_path / "b", "--word-segmentation", "ref", "--ref-dir",
          str(tmp_path / "corpus" / ".."))  # fmt: skip
  monkeypatch.setitem(sys.modules, "jieba", None)  # as if not installed
  with pytest.raises(ImportError, match="pip install jieba"):
    build(corpus, tmp_path / "c", "--word-segmentation", "jieba")


def test_whole_word_masking_needs_word_ids(tmp_path):
  corpus = write_corpus(tmp_path, SEGMENTED)
  build(corpus, tmp_path / "plain")
  files = pretrain_data.list_input_files(
    str(tmp_path / "plain" / "pretrain_data.tfrecord-*")
  )
  with pytest.raises(pretrain_data.InputDataError, match="--word-segmentation"):
    pretrain_data.check_input_files(files, 24, 2244, "whole_word")
  # span masking falls back to token spans; token masking ignores word ids
  assert not pretrain_data.check_input_files(files, 24, 2244, "span")
  build(corpus, tmp_path / "words", "--word-segmentation", "whitespace")
  files = pretrain_data.list_input_files(
    str(tmp_path / "words" / "pretrain_data.tfrecord-*")
  )
  assert pretrain_data.check_input_files(files, 24, 2244, "whole_word")
  assert not pretrain_data.check_input_files(files, 24, 2244, "token")


@pytest.fixture(scope="module")
def jieba_data_dir(tmp_path_factory):
  """The demo corpus built with jieba's words, as a data dir."""
  pytest.importorskip("jieba", reason="jieba is not installed")
  root = tmp_path_factory.mktemp("worded")
  build_pretraining_dataset.main(
    ["--corpus-dir", os.path.join(ROOT, "demo", "corpus"), "--vocab-file",
     DEMO_VOCAB, "--output-dir", str(root / "pretrain_tfrecords"),
     "--max-seq-length", "64", "--word-segmentation", "jieba"]
  )  # fmt: skip
  shutil.copy(DEMO_VOCAB, root / "vocab.txt")
  return str(root)


@pytest.mark.slow
@pytest.mark.parametrize("masking", ["whole_word", "span"])
def test_pretraining_with_word_masking(jieba_data_dir, masking):
  hparams = {
    "debug": True, "vocab_size": 2244, "max_seq_length": 64,
    "masking": masking, "seed": 1, "do_eval": True,
  }  # fmt: skip
  run_pretraining.main(
    ["--data-dir", jieba_data_dir, "--model-name", masking, "--hparams",
     json.dumps(hparams)]
  )  # fmt: skip
  results = os.path.join(
    jieba_data_dir, "models", masking, "results", "unsup_results.json"
  )
  metrics = json.load(open(results))
  assert metrics["global_step"] == 20  # the debug run's steps
  assert 0 < metrics["masked_lm_loss"] < 20 and 0 < metrics["disc_auc"] <= 1


def test_an_unknown_masking_is_an_error_naming_the_choices():
  import configure_pretraining

  with pytest.raises(ValueError, match="'masking' must be one of"):
    configure_pretraining.PretrainingConfig("m", "/d", masking="word")


class CharacterWords:
  """A stand-in for jieba that cuts a line into its characters."""

  @staticmethod
  def lcut(line):
    return list(line)


class PieceTokenizer:
  """'ab' is one WordPiece word (a, ##b) but 'b' alone is b; 'cd' is c d."""

  vocab = {"a": 1, "##b": 2, "b": 3, "c": 4, "d": 5}

  def tokenize_to_ids(self, texts):
    table = {"ab": [1, 2], "a": [1], "b": [3], "cd": [4, 5], "c": [4], "d": [5]}
    return [table[text] for text in texts]


def test_a_line_whose_words_change_its_ids_keeps_the_lines_ids():
  tokenizer = PieceTokenizer()
  id_to_token = {i: t for t, i in tokenizer.vocab.items()}
  results = word_segmentation.tokenize_words(
    tokenizer, ["ab", "cd"], "jieba", CharacterWords, id_to_token
  )
  # "ab": its words give [1, 3], so the line keeps [1, 2], a word of pieces
  assert results == [([1, 2], [True, False]), ([4, 5], [True, True])]
