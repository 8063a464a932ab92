"""The official WordPiece tokenizer from ops a LiteRT model can carry.

LiteRT (TFLite) runs tensorflow-text's `FastBertTokenizer` as two custom
ops (`FastBertNormalize`, `FastWordpieceTokenize`), but not the regex,
lower-casing and NFD ops `fast_tokenization.FastTokenizer` is made of.
tensorflow-text's own normalization differs from the official one: it
case-folds with NFKC, so a full-width comma '，' becomes ',' (another id in
bert-base-chinese) and 5,222 of 7,009 TNEWS dev titles would tokenize
differently. `LiteTokenizer` keeps the fast ops and gives them the official
normalization instead: `normalizer_model` writes, for every character the
official `BasicTokenizer` changes, what it becomes (cleaning: control
characters dropped, whitespace to ' '; with lower-casing: `str.lower`, NFD,
combining marks dropped), into the normalizer's flatbuffer format.
Splitting (whitespace, punctuation, CJK) and WordPiece are the same rules
in both.

Where the two paths can differ (tests/model/test_litert_tokenizer.py
checks the rest on the shared data and on every assigned character):
- A word (after splitting) over 200 bytes is [UNK] here; the official rule
  is 200 characters. Equal for ASCII, CJK (one character a word) and
  every word up to 50 characters.
- Unassigned code points above U+2FFFF (planes 3-13) and private-use
  planes 15-16 are dropped by the official cleaning but kept here (as
  [UNK]): a table of every one would weigh megabytes.
- Lower-casing is per character: a final Greek sigma, which `str.lower`
  maps by context, is 'σ' here (as in `FastTokenizer`).
"""

import functools

import flatbuffers
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from model import darts_trie
from model import tokenization

# the normalizer's data word: changed flag, then offset << 6 | length
CHANGED = 0x40000000
LENGTH_BITS = 6
# planes 0-2 and the format characters of plane 14 are tabled (see above)
TABLED_PLANES = (0, 1, 2)
PLANE_14_FORMAT = range(0xE0000, 0xE0080)
MAX_BYTES_PER_WORD = tokenization.MAX_INPUT_CHARS_PER_WORD


def official_form(char, do_lower_case, strip_accents=True):
  """What the official `BasicTokenizer` turns one character into."""
  if char in "\x00\ufffd" or tokenization.is_control(char):
    return ""
  # str.split() also splits on U+2028/U+2029, which cleaning keeps
  if tokenization.is_whitespace(char) or char in "\u2028\u2029":
    return " "
  if do_lower_case:
    char = char.lower()
    if strip_accents:
      char = tokenization.strip_accents(char)
  return char


def tabled_code_points():
  """The code points the normalizer table covers."""
  for plane in TABLED_PLANES:
    for cp in range(plane << 16, (plane + 1) << 16):
      if not 0xD800 <= cp <= 0xDFFF:  # surrogates are not characters
        yield cp
  yield from PLANE_14_FORMAT


def _data_word(offset, length):
  return CHANGED | (offset << LENGTH_BITS) | length


@functools.cache
def normalizer_model(do_lower_case, strip_accents=True):
  """The `FastBertNormalizer` flatbuffer of the official normalization.

  Returns:
    bytes (the schema of tensorflow-text's fast_bert_normalizer_model.fbs).
  """
  keys, values, pool, offsets = [], [], bytearray(), {}
  zero_data = 0
  for cp in tabled_code_points():
    char = chr(cp)
    form = official_form(char, do_lower_case, strip_accents)
    if form == char:
      continue
    encoded = form.encode("utf-8")
    if len(encoded) >= 1 << LENGTH_BITS:
      raise ValueError(f"U+{cp:04X} normalizes to over 63 bytes")
    if encoded and encoded not in offsets:
      offsets[encoded] = len(pool)
      pool += encoded
    data = _data_word(offsets.get(encoded, 0), len(encoded))
    if cp == 0:
      zero_data = data  # the trie cannot hold the empty key
      continue
    keys.append(char.encode("utf-8"))
    values.append(data)
  trie = darts_trie.build(keys, values)
  builder = flatbuffers.Builder(len(trie) * 4 + len(pool) + 1024)
  trie_vector = builder.CreateNumpyVector(trie)
  pool_vector = builder.CreateNumpyVector(np.frombuffer(pool, np.uint8))
  builder.StartObject(4)
  builder.PrependBoolSlot(0, do_lower_case and strip_accents, False)
  builder.PrependUOffsetTRelativeSlot(1, trie_vector, 0)
  builder.PrependInt32Slot(2, zero_data, 0)
  builder.PrependUOffsetTRelativeSlot(3, pool_vector, 0)
  builder.Finish(builder.EndObject())
  return bytes(builder.Output())


class LiteTokenizer:
  """`tokenization.FullTokenizer`'s ids from LiteRT-capable ops.

  Example:
    >>> tokenizer = LiteTokenizer("demo/vocab.txt")  # doctest: +SKIP
    >>> tokenizer.tokenize_tensor(tf.constant(["中文，ＡＢ"]))  # doctest: +SKIP
  """

  def __init__(self, vocab, do_lower_case=True, strip_accents=True):
    """
    Args:
      vocab: a vocabulary file, or its {token: id} (ids = line numbers).
      do_lower_case, strip_accents: as `tokenization.BasicTokenizer`.
    """
    self.vocab = (
      tokenization.load_vocab(vocab) if isinstance(vocab, str) else vocab
    )
    self._tokenizer = tf_text.FastBertTokenizer(
      vocab=list(self.vocab),
      suffix_indicator="##",
      max_bytes_per_word=MAX_BYTES_PER_WORD,
      token_out_type=tf.int32,
      unknown_token="[UNK]",
      no_pretokenization=False,
      fast_bert_normalizer_model_buffer=normalizer_model(
        do_lower_case, strip_accents
      ),
    )

  def tokenize_tensor(self, texts):
    """[batch] strings -> ragged [batch, (tokens)] int32 ids."""
    return self._tokenizer.tokenize(texts)

  def tokenize_to_ids(self, texts):
    """Token ids of each text: list of str -> list of lists of int."""
    if not texts:
      return []
    return self.tokenize_tensor(tf.constant(texts, tf.string)).to_list()
