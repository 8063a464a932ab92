"""build_pretraining_dataset.py on real-world files, the demo and zhwiki."""

import codecs
import gzip
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import build_pretraining_dataset
import configure_pretraining
from conftest import ROOT
from conftest import shared_path
from pretrain import corpus_reader
from pretrain import dataset_builder
from pretrain import pretrain_data

DEMO_DIR = os.path.join(ROOT, "demo")
DEMO_VOCAB = os.path.join(DEMO_DIR, "vocab.txt")


def build(corpus_dir, output_dir, *extra):
  build_pretraining_dataset.main(
    [
      "--corpus-dir",
      str(corpus_dir),
      "--vocab-file",
      DEMO_VOCAB,
      "--output-dir",
      str(output_dir),
      "--max-seq-length",
      "32",
      *extra,
    ]
  )
  with open(os.path.join(output_dir, "manifest.json")) as f:
    return json.load(f)


def read_examples(output_dir, seq_len):
  files = pretrain_data.list_input_files(
    os.path.join(str(output_dir), "pretrain_data.tfrecord-*")
  )
  dataset = tf.data.TFRecordDataset(files).map(
    lambda r: pretrain_data.decode_record(r, seq_len)
  )
  return [{k: v.numpy() for k, v in e.items()} for e in dataset]


def check_examples(examples, vocab_size, cls_id, sep_id):
  for e in examples:
    ids, mask = e["input_ids"], e["input_mask"]
    length = mask.sum()
    assert (ids < vocab_size).all() and (ids >= 0).all()
    assert (mask[:length] == 1).all() and (ids[length:] == 0).all()
    assert ids[0] == cls_id and ids[length - 1] == sep_id


@pytest.fixture
def corpus(tmp_path):
  """A corpus with the quirks of real files."""
  d = tmp_path / "corpus"
  (d / "sub").mkdir(parents=True)
  text = open(
    os.path.join(DEMO_DIR, "corpus", "life.txt"), encoding="utf-8"
  ).read()
  (d / "plain.txt").write_text(text, encoding="utf-8")
  (d / "bom_crlf.txt").write_bytes(
    codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8")
  )
  (d / "sub" / "zipped.txt.gz").write_bytes(
    gzip.compress(text.replace("。\n", "。\u2028").encode("utf-8"))
  )
  (d / ".hidden").write_text("ignored")
  return d


def test_real_world_files(corpus, tmp_path):
  out = tmp_path / "out"
  manifest = build(corpus, out)
  assert manifest["files"] == 3
  examples = read_examples(out, 32)
  assert len(examples) == manifest["examples"] > 100
  check_examples(examples, 2244, 101, 102)
  assert sum(manifest["shards"].values()) == manifest["examples"]
  assert manifest["settings"]["seed"] == 0 and manifest["vocab_size"] == 2244


def test_reader_keeps_odd_separators_inside_lines(tmp_path):
  path = tmp_path / "x.txt"
  path.write_bytes(b"a\xe2\x80\xa8b\r\nc\xc2\x85d\n\nlast")
  lines, replaced = corpus_reader.read_lines(str(path))
  assert lines == ["a\u2028b", "c\x85d", "", "last"] and replaced == 0


def test_invalid_utf8_names_file_and_offset(corpus, tmp_path):
  (corpus / "bad.txt").write_bytes("好的\n".encode() + b"ab\xff\xfecd\n")
  with pytest.raises(
    corpus_reader.CorpusDecodeError,
    match=r"bad.txt: invalid UTF-8 at byte offset 9",
  ):
    build(corpus, tmp_path / "out")
  assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")
  manifest = build(corpus, tmp_path / "out2", "--replace-invalid-utf8")
  assert manifest["replaced_invalid_utf8"] == 2


def test_existing_output_is_not_wiped(corpus, tmp_path):
  out = tmp_path / "out"
  first = build(corpus, out)
  (out / "notes.txt").write_text("mine")
  with pytest.raises(FileExistsError, match="pass --overwrite"):
    build(corpus, out, "--num-out-files", "3")
  assert len(read_examples(out, 32)) == first["examples"]  # untouched
  manifest = build(corpus, out, "--overwrite", "--num-out-files", "3")
  assert sorted(os.listdir(out)) == sorted(
    ["manifest.json", "notes.txt"] + list(manifest["shards"])
  )
  assert len(manifest["shards"]) == 3


def test_seed_gives_reproducible_output(corpus, tmp_path):
  a, b, c = (
    build(corpus, tmp_path / n, "--seed", s)
    for n, s in (("a", "5"), ("b", "5"), ("c", "6"))
  )
  read = [read_examples(tmp_path / n, 32) for n in "abc"]
  same = all(
    (x["input_ids"] == y["input_ids"]).all() for x, y in zip(read[0], read[1])
  )
  assert same and a["examples"] == b["examples"]
  assert [x["input_ids"].tolist() for x in read[0]] != [
    x["input_ids"].tolist() for x in read[2]
  ]


def test_blanks_separate_docs_flag_parses_false(corpus, tmp_path):
  args = build_pretraining_dataset.parse_args(
    [
      "--corpus-dir",
      "c",
      "--vocab-file",
      "v",
      "--output-dir",
      "o",
      "--blanks-separate-docs",
      "false",
    ]
  )
  assert args.blanks_separate_docs is False
  with_docs = build(corpus, tmp_path / "a")
  without = build(corpus, tmp_path / "b", "--blanks-separate-docs", "False")
  assert without["examples"] < with_docs["examples"]


@pytest.mark.slow
def test_two_processes(corpus, tmp_path):
  manifest = build(corpus, tmp_path / "out", "--num-processes", "2")
  assert len(manifest["shards"]) == 2
  assert all(n > 0 for n in manifest["shards"].values())
  check_examples(read_examples(tmp_path / "out", 32), 2244, 101, 102)


def test_python_tokenizer_gives_the_same_records(corpus, tmp_path):
  build(corpus, tmp_path / "fast")
  build(corpus, tmp_path / "python", "--python-tokenizer")
  fast = read_examples(tmp_path / "fast", 32)
  python = read_examples(tmp_path / "python", 32)
  assert [e["input_ids"].tolist() for e in fast] == [
    e["input_ids"].tolist() for e in python
  ]


@pytest.mark.slow
def test_zhwiki_sample_with_the_real_vocab(tmp_path):
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  corpus = tmp_path / "zh"
  corpus.mkdir()
  shutil.copy(shared_path("data", "corpus", "zhwiki_sample.txt"), corpus)
  out = tmp_path / "out"
  build_pretraining_dataset.main(
    [
      "--corpus-dir",
      str(corpus),
      "--vocab-file",
      vocab,
      "--output-dir",
      str(out),
    ]
  )
  examples = read_examples(out, 128)
  assert len(examples) > 5000
  check_examples(examples, 21128, 101, 102)
  lengths = np.array([e["input_mask"].sum() for e in examples])
  assert np.median(lengths) == 128


def test_demo_config_matches_the_demo_vocab():
  hparams = json.load(open(configure_pretraining.DEFAULT_HPARAMS))
  with open(DEMO_VOCAB, encoding="utf-8") as f:
    assert hparams["vocab_size"] == len(f.read().splitlines())


def test_default_shard_count_is_sized_to_the_data(corpus):
  files = corpus_reader.list_corpus_files(str(corpus))
  assert dataset_builder.default_num_shards(files, 1) == 1
  assert dataset_builder.default_num_shards(files, 4) == 4
