"""The serving signatures' tensor helpers (interop/serving_ops.py) against
the fine-tuning tasks' Python code, and on inputs checked by hand."""

import random

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_VOCAB

import configure_finetuning
from finetune import tagging
from finetune import task as task_lib
from interop import serving_ops
from model import fast_tokenization

TAGS = ["O"] + [f"{p}-{t}" for t in ("loc", "name") for p in "BIES"]


@pytest.fixture(scope="module")
def tokenizer():
  return fast_tokenization.FastTokenizer(DEMO_VOCAB, True)


def test_char_tokens_equal_the_tagging_featurization(tokenizer, tmp_path):
  texts = [
    "我在北京大学读书，老师是张三。",
    "Hello 世界 42 ！",  # Latin letters and digits: one piece a character
    "  空格  和\t制表符",  # whitespace yields no token
    "😀表情🚀和罕见字𠀀",  # astral characters
    "",
    "长" * 30,  # cut at max_tokens
  ]
  config = configure_finetuning.FinetuningConfig(
    "m", str(tmp_path), task_names=["cluener"], max_seq_length=17
  )
  task = tagging.CLUENER(config)
  examples = [
    task_lib.Example("cluener", i, t, None) for i, t in enumerate(texts)
  ]
  features = task.featurize(examples, tokenizer)
  ids, chars = serving_ops.char_tokens(tokenizer, tf.constant(texts), 15)
  for row, feature in enumerate(features):
    length = sum(feature["input_mask"]) - 2
    assert ids[row].numpy().tolist() == feature["input_ids"][1 : length + 1]
    assert (
      chars[row].numpy().tolist() == feature["cluener_chars"][1 : length + 1]
    )


def spans(rows):
  prefix_of, kind_of, types = serving_ops.tag_layout(TAGS)
  ids = tf.constant([[TAGS.index(t) for t in row] for row in rows], tf.int32)
  starts, ends, kinds = serving_ops.decode_spans(ids, prefix_of, kind_of)
  return [
    [(s, e, types[k]) for s, e, k in zip(*row)]
    for row in zip(starts.to_list(), ends.to_list(), kinds.to_list())
  ]


def test_decode_spans_by_hand():
  rows = [
    ["B-loc", "I-loc", "E-loc", "O", "S-name", "O"],
    ["I-loc", "E-name", "B-loc", "B-loc", "E-loc", "I-name"],
    ["O"] * 6,
  ]
  assert spans(rows) == [
    [(0, 2, "loc"), (4, 4, "name")],
    # strict: I-/E- that continues nothing starts a new entity
    [
      (0, 0, "loc"),
      (1, 1, "name"),
      (2, 2, "loc"),
      (3, 4, "loc"),
      (5, 5, "name"),
    ],
    [],
  ]


def test_decode_spans_equals_the_scorer_on_random_tags():
  rng = random.Random(3)
  rows = [
    [rng.choice(TAGS) if rng.random() < 0.7 else "O" for _ in range(11)]
    for _ in range(300)
  ]
  assert spans(rows) == [tagging.tags_to_spans(row) for row in rows]


def test_char_tags_keeps_first_pieces_only():
  predictions = tf.constant([[9, 1, 2, 3, 9, 9]], tf.int32)
  chars = tf.constant([[-1, 0, -1, 2, -1, -1]], tf.int32)
  tags = serving_ops.char_tags(predictions, chars, 4)
  assert tags.numpy().tolist() == [[1, 0, 3, 0]]


def test_entity_texts_index_code_points():
  texts = tf.constant(["a😀北京", "全角　空格"])
  starts = tf.constant([[1, 2], [3, -1]])
  ends = tf.constant([[1, 3], [4, -1]])
  got = serving_ops.entity_texts(texts, starts, ends).numpy()
  assert [[t.decode() for t in row] for row in got] == [
    ["😀", "北京"],
    ["空格", ""],
  ]
  assert np.array_equal(starts.numpy() >= 0, got != b"")
