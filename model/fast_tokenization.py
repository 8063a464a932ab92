"""The WordPiece tokenizer as TensorFlow ops (tensorflow-text), same ids.

`FastTokenizer` reproduces `tokenization.FullTokenizer` exactly: the character
classes of the official code (control, whitespace, punctuation, combining
marks) are read from Python's own `unicodedata` and compiled into RE2 classes,
so both paths agree on every character Python knows. Lower-casing uses
TensorFlow's UTF-8 lower-casing and NFD comes from ICU; they differ from
Python's `str.lower` only in context-dependent special casings (a final Greek
sigma), which Chinese text does not contain.
"""

import functools
import sys
import unicodedata

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from model import tokenization


def _class(members):
  """RE2 class of the code points where ``members`` (bool, one per code
  point from 0) is true, as ranges: '[\\x{41}-\\x{5A}...]'."""
  edges = np.flatnonzero(np.diff(np.concatenate([[0], members, [0]])))
  parts = [
    f"\\x{{{start:X}}}"
    if start == stop - 1
    else f"\\x{{{start:X}}}-\\x{{{stop - 1:X}}}"
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist())
  ]
  return "[" + "".join(parts) + "]"


@functools.cache
def character_classes():
  """RE2 classes for the official character predicates (built once, from
  every code point's Unicode category)."""
  categories = list(
    map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))
  )
  names = sorted(set(categories))
  index = {name: i for i, name in enumerate(names)}
  codes = np.fromiter(map(index.__getitem__, categories), np.int8)
  is_in = {name: codes == index[name] for name in names}

  def any_of(predicate):
    return np.logical_or.reduce(
      [is_in[name] for name in names if predicate(name)]
    )

  # str.split() also splits on U+2028/U+2029, which survive cleaning
  whitespace = any_of(lambda cat: cat == "Zs")
  whitespace[[ord(c) for c in " \t\n\r\u2028\u2029"]] = True
  control = any_of(lambda cat: cat[0] == "C")
  control[[0, 0xFFFD]] = True
  control &= ~whitespace
  punctuation = any_of(lambda cat: cat.startswith("P"))
  # the official predicate adds ASCII symbols of other categories ($, +, ...)
  punctuation[
    [cp for cp in range(128) if tokenization.is_punctuation(chr(cp))]
  ] = True
  classes = {
    "whitespace": _class(whitespace),
    "control": _class(control),
    "mark": _class(is_in["Mn"]),
    "punctuation": _class(punctuation),
  }
  classes["cjk"] = (
    "["
    + "".join(
      f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in tokenization.CJK_RANGES
    )
    + "]"
  )
  return classes


class FastBasicTokenizer:
  """`tokenization.BasicTokenizer` as TensorFlow ops: text -> words."""

  def __init__(self, do_lower_case=True, strip_accents=True):
    self.do_lower_case = do_lower_case
    self.strip_accents = strip_accents
    self.classes = character_classes()

  def normalize(self, texts):
    """Cleaning, lower-casing and accent stripping: [B] -> [B] strings."""
    c = self.classes
    texts = tf.strings.regex_replace(texts, c["control"], "")
    texts = tf.strings.regex_replace(texts, c["whitespace"], " ")
    if self.do_lower_case:
      texts = tf.strings.lower(texts, encoding="utf-8")
      if self.strip_accents:
        texts = tf_text.normalize_utf8(texts, "NFD")
        texts = tf.strings.regex_replace(texts, c["mark"], "")
    return texts

  def words(self, texts):
    """[B] strings -> ragged [B, words] strings."""
    c = self.classes
    keep = f"{c['punctuation']}|{c['cjk']}"
    words, _, _ = tf_text.regex_split_with_offsets(
      self.normalize(texts), f" +|{keep}", keep
    )
    return words


class FastTokenizer:
  """`FullTokenizer`'s ids from TensorFlow ops, for batches of text."""

  def __init__(self, vocab_file, do_lower_case=True, strip_accents=True):
    self.vocab = tokenization.load_vocab(vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.basic = FastBasicTokenizer(do_lower_case, strip_accents)
    self._wordpiece = tf_text.FastWordpieceTokenizer(
      vocab=list(self.vocab),
      suffix_indicator="##",
      max_bytes_per_word=4 * tokenization.MAX_INPUT_CHARS_PER_WORD,
      token_out_type=tf.int32,
      unknown_token="[UNK]",
      no_pretokenization=True,
    )
    # no tensor-dependent Python control flow: skipping AutoGraph's
    # conversion makes the first call several times faster
    self._tokenize = tf.function(
      self.tokenize_tensor,
      input_signature=[tf.TensorSpec([None], tf.string)],
      autograph=False,
    )

  def tokenize_tensor(self, texts):
    """[B] strings -> ragged [B, tokens] int32 ids."""
    words = self.basic.words(texts)
    too_long = tf.strings.length(words, unit="UTF8_CHAR") > (
      tokenization.MAX_INPUT_CHARS_PER_WORD
    )
    words = tf.ragged.map_flat_values(
      lambda w, long: tf.where(long, "[UNK]", w), words, too_long
    )
    return self._wordpiece.tokenize(words).merge_dims(1, 2)

  def tokenize_to_ids(self, texts):
    """Token ids of each text: list of str -> list of lists of int."""
    if not texts:
      return []
    ragged = self._tokenize(tf.constant(texts, tf.string))
    values = ragged.flat_values.numpy()
    splits = ragged.row_splits.numpy()
    return [values[a:b].tolist() for a, b in zip(splits[:-1], splits[1:])]

  def tokenize(self, text):
    return [self.inv_vocab[i] for i in self.tokenize_to_ids([text])[0]]
