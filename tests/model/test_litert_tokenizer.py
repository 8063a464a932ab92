"""The LiteRT-capable tokenizer gives the official tokenizer's ids: on every
character it tables (alone, inside words and beside CJK), on hand-picked
bad input, and on the shared Chinese data."""

import glob
import json
import os

import pytest
from helpers import DEMO_VOCAB

from conftest import SHARED
from model import litert_tokenizer
from model import tokenization

VOCAB = os.path.join(SHARED, "data", "vocab", "bert-base-chinese-vocab.txt")
HAND_PICKED = [
  "",
  "   \t\n ",
  "全角ＡＢＣ，标点！？　和空格 mixed Latin 42 字",
  "表情😀🚀和罕见字𠀀，组合 e\u0301 ﬁ ①",
  "零宽\u200b字符\u200d和\ufeff控制\x00\x07\ufffd字符",
  "Ünïcödé ΣΑΣ Straße İstanbul",
  "长文本" * 33_334,
  "a" * 100_000,
  "x" * 200,
  "x" * 201,
]


def official_and_lite(vocab, texts, do_lower_case=True):
  full = tokenization.FullTokenizer(vocab, do_lower_case)
  lite = litert_tokenizer.LiteTokenizer(vocab, do_lower_case)
  return full.tokenize_to_ids(texts), lite.tokenize_to_ids(texts)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_hand_picked_inputs(do_lower_case):
  official, lite = official_and_lite(DEMO_VOCAB, HAND_PICKED, do_lower_case)
  assert lite == official


def test_every_tabled_character_in_context():
  texts = [
    f"a{chr(cp)}b中{chr(cp)}{chr(cp)}"
    for cp in litert_tokenizer.tabled_code_points()
  ]
  official, lite = official_and_lite(DEMO_VOCAB, texts)
  differing = [t for t, a, b in zip(texts, official, lite) if a != b]
  assert not differing, [hex(ord(t[1])) for t in differing[:10]]


def shared_texts():
  """Every string field of the shared CLUE, CLUENER and CMRC 2018 files."""

  def strings(value):
    if isinstance(value, str):
      yield value
    elif isinstance(value, (list, dict)):
      for item in value.values() if isinstance(value, dict) else value:
        yield from strings(item)

  texts = set()
  data = os.path.join(SHARED, "data")
  for path in glob.glob(
    os.path.join(data, "*", "**", "*.json"), recursive=True
  ):
    with open(path, encoding="utf-8") as f:
      raw = f.read()
    try:
      texts.update(strings(json.loads(raw)))
    except json.JSONDecodeError:  # JSON lines (a broken one: its text)
      for line in raw.splitlines():
        try:
          texts.update(strings(json.loads(line)))
        except json.JSONDecodeError:
          texts.add(line)
  return sorted(texts)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(VOCAB), reason="needs ../shared/data")
def test_shared_chinese_data():
  texts = shared_texts()
  official, lite = official_and_lite(VOCAB, texts)
  differing = [t for t, a, b in zip(texts, official, lite) if a != b]
  assert len(texts) > 10_000
  assert not differing, differing[:3]


def test_each_character_alone_as_the_savedmodel_featurizes_tagging():
  import numpy as np
  import tensorflow as tf

  from interop import serving_ops
  from model import fast_tokenization

  texts = HAND_PICKED[:6] + [
    "".join(chr(cp) for cp in range(start, start + 40))
    for start in (0x20, 0x3000, 0xFF00, 0x1F600, 0xAC00, 0x0600)
  ]
  expected_ids, expected_chars = serving_ops.char_tokens(
    fast_tokenization.FastTokenizer(DEMO_VOCAB), tf.constant(texts), 50
  )
  ids, lengths, chars, num_chars = litert_tokenizer.LiteCharTokenizer(
    DEMO_VOCAB
  ).char_tokens(tf.constant(texts), 50)
  width = ids.shape[1]
  np.testing.assert_array_equal(ids, expected_ids.to_tensor(0, [None, width]))
  np.testing.assert_array_equal(
    chars, expected_chars.to_tensor(-1, [None, width])
  )
  np.testing.assert_array_equal(lengths, expected_ids.row_lengths())
  np.testing.assert_array_equal(
    num_chars, tf.strings.length(texts, unit="UTF8_CHAR")
  )
