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

import tensorflow as tf
import tensorflow_text as tf_text

from model import tokenization


def _class(codepoints):
  """RE2 class of sorted code points, as ranges: '[\\x{41}-\\x{5A}...]'."""
  parts, start, prev = [], None, None
  for cp in codepoints + [None]:
    if start is not None and (cp is None or cp != prev + 1):
      parts.append(
        f"\\x{{{start:X}}}"
        if start == prev
        else f"\\x{{{start:X}}}-\\x{{{prev:X}}}"
      )
      start = None
    if cp is not None and start is None:
      start = cp
    prev = cp
  return "[" + "".join(parts) + "]"


@functools.cache
def character_classes():
  """RE2 classes for the official character predicates (built once)."""
  members = {"whitespace": [], "control": [], "mark": [], "punctuation": []}
  for cp in range(sys.maxunicode + 1):
    char = chr(cp)
    category = unicodedata.category(char)
    # str.split() also splits on U+2028/U+2029, which survive cleaning
    if char in " \t\n\r\u2028\u2029" or category == "Zs":
      members["whitespace"].append(cp)
    elif char in "\x00\ufffd" or category[0] == "C":
      members["control"].append(cp)
    if category == "Mn":
      members["mark"].append(cp)
    if tokenization.is_punctuation(char):
      members["punctuation"].append(cp)
  classes = {name: _class(cps) for name, cps in members.items()}
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
    # conversion cuts the first call from ~1.7 s to ~0.2 s
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
