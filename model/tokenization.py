"""WordPiece tokenization with the official (BERT/ELECTRA) behaviour.

`FullTokenizer` = `BasicTokenizer` (clean text, split every CJK character and
every punctuation character into its own token, optional lower-casing and
accent stripping) + `WordpieceTokenizer` (greedy longest-match-first with
``##`` continuations, words over 200 characters become [UNK]).
`model.fast_tokenization` gives the same ids with tensorflow-text.
"""

import collections
import unicodedata

import tensorflow as tf

REQUIRED_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_INPUT_CHARS_PER_WORD = 200

# the CJK ideograph blocks the official code splits into single tokens
CJK_RANGES = (
  (0x4E00, 0x9FFF),
  (0x3400, 0x4DBF),
  (0x20000, 0x2A6DF),
  (0x2A700, 0x2B73F),
  (0x2B740, 0x2B81F),
  (0x2B820, 0x2CEAF),
  (0xF900, 0xFAFF),
  (0x2F800, 0x2FA1F),
)


def load_vocab(vocab_file):
  """Loads a vocabulary (one token per line, id = line number).

  A line that is blank after stripping (bert-base-chinese has one: U+2028)
  can never be produced by the tokenizer; it keeps its id under a placeholder
  containing a space, so ids stay line numbers. A repeated token is an error
  (the official loader silently gives it its last id).
  """
  if not tf.io.gfile.exists(vocab_file):
    raise FileNotFoundError(f"vocab_file {vocab_file} does not exist")
  vocab = collections.OrderedDict()
  with tf.io.gfile.GFile(vocab_file, "rb") as reader:
    data = reader.read()
  try:
    lines = data.decode("utf-8-sig").split("\n")
  except UnicodeDecodeError as e:
    raise ValueError(
      f"vocab_file {vocab_file}: invalid UTF-8 at byte offset {e.start}"
    ) from None
  if lines and lines[-1] == "":
    lines.pop()  # the final newline
  for index, raw in enumerate(lines):
    token = raw.strip()
    if not token:
      token = f"[unreachable line {index + 1}]"
    if token in vocab:
      raise ValueError(
        f"vocab_file {vocab_file} repeats {token!r} on lines "
        f"{vocab[token] + 1} and {index + 1}"
      )
    vocab[token] = index
  return vocab


def check_special_tokens(vocab, vocab_file):
  """Raises a clear error when a BERT special token is missing."""
  missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in vocab]
  if missing:
    raise ValueError(
      f"vocab_file {vocab_file} lacks the special tokens {missing}"
    )


def is_whitespace(char):
  return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char):
  if char in "\t\n\r":
    return False
  return unicodedata.category(char).startswith("C")


def is_punctuation(char):
  """ASCII non-alphanumerics and every Unicode P* character."""
  cp = ord(char)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def is_cjk(char):
  cp = ord(char)
  return any(low <= cp <= high for low, high in CJK_RANGES)


def clean_text(text):
  """Drops NUL, U+FFFD and control characters; whitespace becomes ' '."""
  out = []
  for char in text:
    if char in "\x00\ufffd" or is_control(char):
      continue
    out.append(" " if is_whitespace(char) else char)
  return "".join(out)


def strip_accents(text):
  """NFD, then drop the combining marks (category Mn)."""
  return "".join(
    c
    for c in unicodedata.normalize("NFD", text)
    if unicodedata.category(c) != "Mn"
  )


def split_on_punctuation(text):
  """'ab,c' -> ['ab', ',', 'c']."""
  pieces, current = [], []
  for char in text:
    if is_punctuation(char):
      if current:
        pieces.append("".join(current))
        current = []
      pieces.append(char)
    else:
      current.append(char)
  if current:
    pieces.append("".join(current))
  return pieces


class BasicTokenizer:
  """Cleaning, CJK and punctuation splitting, lower-casing, accent removal.

  As official, accents are stripped only when lower-casing.
  """

  def __init__(self, do_lower_case=True, strip_accents=True):
    self.do_lower_case = do_lower_case
    self.strip_accents = strip_accents

  def tokenize(self, text):
    text = clean_text(text)
    text = "".join(f" {c} " if is_cjk(c) else c for c in text)
    tokens = []
    for word in text.split():
      if self.do_lower_case:
        word = word.lower()
        if self.strip_accents:
          word = strip_accents(word)
      tokens.extend(split_on_punctuation(word))
    return " ".join(tokens).split()


class WordpieceTokenizer:
  """Greedy longest-match-first WordPiece; an unmatchable word is [UNK]."""

  def __init__(
    self,
    vocab,
    unk_token="[UNK]",
    max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
  ):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word

  def tokenize_word(self, word):
    if len(word) > self.max_input_chars_per_word:
      return [self.unk_token]
    pieces, start = [], 0
    while start < len(word):
      end = len(word)
      while end > start:
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in self.vocab:
          break
        end -= 1
      if end == start:
        return [self.unk_token]
      pieces.append(piece)
      start = end
    return pieces

  def tokenize(self, text):
    return [
      piece for word in text.split() for piece in self.tokenize_word(word)
    ]


class FullTokenizer:
  """End-to-end WordPiece tokenization with the official behaviour."""

  def __init__(self, vocab_file, do_lower_case=True, strip_accents=True):
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case, strip_accents)
    self.wordpiece_tokenizer = WordpieceTokenizer(self.vocab)

  def tokenize(self, text):
    return [
      piece
      for word in self.basic_tokenizer.tokenize(text)
      for piece in self.wordpiece_tokenizer.tokenize_word(word)
    ]

  def convert_tokens_to_ids(self, tokens):
    return [self.vocab[t] for t in tokens]

  def convert_ids_to_tokens(self, ids):
    return [self.inv_vocab[i] for i in ids]

  def tokenize_to_ids(self, texts):
    """Token ids of each text: list of str -> list of lists of int."""
    return [self.convert_tokens_to_ids(self.tokenize(t)) for t in texts]
