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
EACH_CHARACTER_PLANES = (0, 1, 2, 3)
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


def tabled_code_points(planes=TABLED_PLANES):
  """The code points the normalizer table covers."""
  for plane in planes:
    for cp in range(plane << 16, (plane + 1) << 16):
      if not 0xD800 <= cp <= 0xDFFF:  # surrogates are not characters
        yield cp
  yield from PLANE_14_FORMAT


def _data_word(offset, length):
  return CHANGED | (offset << LENGTH_BITS) | length


@functools.cache
def normalizer_model(do_lower_case, strip_accents=True, each_character=False):
  """The `FastBertNormalizer` flatbuffer of the official normalization.

  Args:
    do_lower_case, strip_accents: as `tokenization.BasicTokenizer`.
    each_character: end every character with one space (whitespace and
      dropped characters become that space alone), so that each is
      tokenized alone (the tagging tasks' featurization) and the spaces
      before a byte of the normalized text count the characters before
      it; the table then covers every code point of planes 0-3.

  Returns:
    bytes (the schema of tensorflow-text's fast_bert_normalizer_model.fbs).
  """
  keys, values, pool, offsets = [], [], bytearray(), {}
  zero_data = 0
  planes = EACH_CHARACTER_PLANES if each_character else TABLED_PLANES
  for cp in tabled_code_points(planes):
    char = chr(cp)
    form = official_form(char, do_lower_case, strip_accents)
    if each_character:
      form = form.strip() + " "
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

  each_character = False  # see normalizer_model

  def __init__(self, vocab, do_lower_case=True, strip_accents=True):
    """
    Args:
      vocab: a vocabulary file, or its {token: id} (ids = line numbers).
      do_lower_case, strip_accents: as `tokenization.BasicTokenizer`.
    """
    self.vocab = (
      tokenization.load_vocab(vocab) if isinstance(vocab, str) else vocab
    )
    # tensorflow-text's FastBertTokenizer is these two, with its own table
    self._normalizer = tf_text.FastBertNormalizer(
      model_buffer=normalizer_model(
        do_lower_case, strip_accents, self.each_character
      )
    )
    self._wordpiece = tf_text.FastWordpieceTokenizer(
      vocab=list(self.vocab),
      suffix_indicator="##",
      max_bytes_per_word=MAX_BYTES_PER_WORD,
      token_out_type=tf.int32,
      unknown_token="[UNK]",
      no_pretokenization=False,
    )

  def tokenize_tensor(self, texts):
    """[batch] strings -> ragged [batch, (tokens)] int32 ids."""
    return self._wordpiece.tokenize(self._normalizer.normalize(texts))

  def tokenize_to_ids(self, texts):
    """Token ids of each text: list of str -> list of lists of int."""
    if not texts:
      return []
    return self.tokenize_tensor(tf.constant(texts, tf.string)).to_list()


class LiteCharTokenizer(LiteTokenizer):
  """Each character tokenized alone, as the tagging tasks featurize text
  (`interop.serving_ops.char_tokens`), from LiteRT-capable ops.

  A character outside planes 0-3 (none is assigned in Python's Unicode)
  is not ended with a space: it shares the next character's index, and
  beside a letter or digit its word.
  """

  each_character = True

  def char_tokens(self, texts, max_tokens):
    """Token ids of each character, and the character each token starts.

    Args:
      texts: [batch] strings.
      max_tokens: tokens kept per text.

    Returns:
      (ids, lengths, chars, num_chars): ids [batch, tokens] int32 padded
      with 0 and their [batch] counts; chars [batch, tokens] int32, the
      index (in code points) of the character a token is the first piece
      of, -1 for further pieces and padding; num_chars [batch] int32, the
      characters of each text.
    """
    normalized = self._normalizer.normalize(texts)
    ids, starts, _ = self._wordpiece.tokenize_with_offsets(normalized)
    lengths = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), max_tokens)
    ids = ids.to_tensor(0)[:, :max_tokens]
    starts = tf.cast(starts.to_tensor(0)[:, :max_tokens], tf.int32)
    # int32 before comparing and densifying: LiteRT's kernels of both
    # take no uint8
    data = tf_text.ByteSplitter().split(normalized)
    spaces = tf.ragged.map_flat_values(
      lambda b: tf.cast(tf.equal(tf.cast(b, tf.int32), 32), tf.int32), data
    ).to_tensor(0)
    num_chars = tf.reduce_sum(spaces, axis=1)
    # the character of a byte: the spaces before it (one ends each)
    char_of_byte = tf.concat(
      [tf.cumsum(spaces, axis=1, exclusive=True), tf.zeros_like(spaces[:, :1])],
      axis=1,
    )
    chars = tf.gather(char_of_byte, starts, batch_dims=1)
    previous = tf.concat([-tf.ones_like(chars[:, :1]), chars[:, :-1]], axis=1)
    positions = tf.expand_dims(tf.range(tf.shape(ids)[1]), 0)
    real = positions < tf.expand_dims(lengths, 1)
    first = real & tf.not_equal(chars, previous)
    return ids, lengths, tf.where(first, chars, -1), num_chars
