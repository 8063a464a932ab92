"""The official tokenizer behaviour, and parity of the tensorflow-text path."""

import re
import sys
import unicodedata

import pytest

from conftest import shared_path
from model import fast_tokenization
from model import tokenization
from model import tokenizers

SMALL_VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "我",
  "爱",
  "北",
  "京",
  "，",
  "。",
  "hello",
  "world",
  "!",
  "un",
  "##aff",
  "##able",
  "12",
  "##34",
  "cafe",
  "（",
  "）",
  "：",
  "a",
  "##b",
  "ab",
  "##ab",
]

HAND_CASES = [
  "我爱北京，Hello World!",
  "unaffable 1234",
  "ＡＢＣ（全角）：１２３。",  # full-width letters, digits, punctuation
  "tab\there\r\nnew\x00line\x7f\ufffd end",  # control characters
  "emoji 😀👨‍👩‍👧 ❤️ 🇨🇳 end",
  "Café naïve ÅNGSTRÖM",
  "zero\u200bwidth \u2028line\u2029para\u3000ideographic\xa0nbsp",
  "한국어 テキスト ελληνικά",
  "a" * 201 + " " + "a" * 200,
  "   ",
  "",
]


@pytest.fixture(scope="module")
def small_vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(SMALL_VOCAB) + "\n", encoding="utf-8")
  return str(path)


@pytest.fixture(scope="module")
def tokenizer_pair(small_vocab_file):
  return (
    tokenization.FullTokenizer(small_vocab_file),
    fast_tokenization.FastTokenizer(small_vocab_file),
  )


def test_basic_tokenizer_by_hand():
  basic = tokenization.BasicTokenizer()
  assert basic.tokenize("我爱ELECTRA模型，OK?") == [
    "我",
    "爱",
    "electra",
    "模",
    "型",
    "，",
    "ok",
    "?",
  ]
  assert basic.tokenize(" \tCafé\u00a0x\x00y ") == ["cafe", "xy"]
  assert tokenization.BasicTokenizer(do_lower_case=False).tokenize("Café") == [
    "Café"
  ]
  # accents are stripped only together with lower-casing (as official)
  assert tokenization.BasicTokenizer(strip_accents=False).tokenize("Café") == [
    "café"
  ]


def test_wordpiece_by_hand(tokenizer_pair):
  python, _ = tokenizer_pair
  assert python.tokenize("unaffable") == ["un", "##aff", "##able"]
  assert python.tokenize("1234 ab abab abba") == [
    "12",
    "##34",
    "ab",
    "ab",
    "##ab",
    "[UNK]",
  ]
  assert python.tokenize("zzz 我") == ["[UNK]", "我"]
  assert python.tokenize("a" * 201) == ["[UNK]"]
  assert python.tokenize("ab" * 100) == ["ab"] + ["##ab"] * 99  # 200 chars


@pytest.mark.parametrize("text", HAND_CASES)
def test_fast_path_equals_python_on_hand_cases(tokenizer_pair, text):
  python, fast = tokenizer_pair
  assert fast.tokenize_to_ids([text]) == python.tokenize_to_ids([text])


def test_fast_path_batches(tokenizer_pair):
  python, fast = tokenizer_pair
  assert fast.tokenize_to_ids(HAND_CASES) == python.tokenize_to_ids(HAND_CASES)
  assert fast.tokenize_to_ids([]) == []


def _class_members(re2_class):
  """The code points of an RE2 class written by `character_classes`."""
  members = set()
  for low, high in re.findall(r"\\x\{(\w+)\}(?:-\\x\{(\w+)\})?", re2_class):
    members.update(range(int(low, 16), int(high or low, 16) + 1))
  return members


def test_character_classes_hold_exactly_the_official_predicates():
  classes = fast_tokenization.character_classes()
  chars = [chr(cp) for cp in range(sys.maxunicode + 1)]
  # cleaning drops NUL and U+FFFD too; str.split() splits on U+2028/9
  whitespace = {ord(c) for c in chars if tokenization.is_whitespace(c)}
  whitespace |= {0x2028, 0x2029}
  control = {ord(c) for c in chars if tokenization.is_control(c)}
  expected = {
    "whitespace": whitespace,
    "control": (control | {0, 0xFFFD}) - whitespace,
    "punctuation": {ord(c) for c in chars if tokenization.is_punctuation(c)},
    "mark": {ord(c) for c in chars if unicodedata.category(c) == "Mn"},
  }
  for name, members in expected.items():
    assert _class_members(classes[name]) == members, name


@pytest.mark.slow
def test_fast_path_equals_python_on_zhwiki_sample():
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  corpus = shared_path("data", "corpus", "zhwiki_sample.txt")
  with open(corpus, encoding="utf-8") as f:
    lines = f.read().split("\n")
  python = tokenization.FullTokenizer(vocab)
  fast = fast_tokenization.FastTokenizer(vocab)
  fast_ids = fast.tokenize_to_ids(lines)
  mismatches = [
    i
    for i, line in enumerate(lines)
    if python.tokenize_to_ids([line])[0] != fast_ids[i]
  ]
  assert len(lines) > 20000 and not mismatches, mismatches[:5]
  for text in HAND_CASES:
    assert fast.tokenize_to_ids([text]) == python.tokenize_to_ids([text])


def test_bert_chinese_vocab_layout():
  vocab = tokenization.load_vocab(
    shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  )
  assert len(vocab) == 21128
  assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [
    0,
    100,
    101,
    102,
    103,
  ]
  # line 344 holds U+2028 alone: it keeps its id but cannot be produced
  assert "[unreachable line 344]" in vocab


def test_vocab_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="nope.txt does not exist"):
    tokenization.load_vocab(str(tmp_path / "nope.txt"))
  dup = tmp_path / "dup.txt"
  dup.write_text("[PAD]\na\nb\na\n")
  with pytest.raises(ValueError, match="repeats 'a' on lines 2 and 4"):
    tokenization.load_vocab(str(dup))
  ok = tmp_path / "ok.txt"
  ok.write_text("\ufeff[PAD]\r\n[UNK]\r\nx\r\n", encoding="utf-8")
  assert tokenization.load_vocab(str(ok)) == {"[PAD]": 0, "[UNK]": 1, "x": 2}
  with pytest.raises(ValueError, match=r"lacks the special tokens \['\[CLS\]'"):
    tokenization.check_special_tokens(tokenization.load_vocab(str(ok)), str(ok))


def test_ids_round_trip(tokenizer_pair):
  python, _ = tokenizer_pair
  tokens = python.tokenize("我爱北京")
  assert (
    python.convert_ids_to_tokens(python.convert_tokens_to_ids(tokens)) == tokens
  )


def test_sentencepiece_tokenizer(tmp_path):
  import sentencepiece

  corpus = tmp_path / "corpus.txt"
  corpus.write_text(
    "\n".join(
      [
        "我爱北京天安门。",
        "今天天气很好。",
        "我们去公园散步吧。",
        "北京的秋天很美。",
      ]
      * 20
    ),
    encoding="utf-8",
  )
  prefix = str(tmp_path / "sp")
  sentencepiece.SentencePieceTrainer.train(
    input=str(corpus),
    model_prefix=prefix,
    vocab_size=30,
    user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"],
    pad_id=0,
    pad_piece="[PAD]",
    unk_id=1,
    unk_piece="[UNK]",
    bos_id=-1,
    eos_id=-1,
    minloglevel=2,
  )
  tokenizer = tokenizers.get_tokenizer(prefix + ".model")
  assert isinstance(tokenizer, tokenizers.SentencePieceTokenizer)
  ids = tokenizer.tokenize_to_ids(["我爱北京。"])[0]
  assert ids and all(0 <= i < 30 for i in ids)
  assert tokenizer.vocab["[PAD]"] == 0 and "[MASK]" in tokenizer.vocab


def test_get_tokenizer_choices(small_vocab_file):
  assert isinstance(
    tokenizers.get_tokenizer(small_vocab_file), fast_tokenization.FastTokenizer
  )
  assert isinstance(
    tokenizers.get_tokenizer(small_vocab_file, fast=False),
    tokenization.FullTokenizer,
  )
