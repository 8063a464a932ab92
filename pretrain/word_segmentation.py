"""Word boundaries for whole-word and span masking, found while the
pretraining data is built (build_pretraining_dataset.py
--word-segmentation).

A line's tokens come with ``starts``: True where a token begins a word.
Tokens of one word (its WordPiece pieces, or the characters of a Chinese
word) share the word; `example_builder` turns the flags into each token's
word index within its example.

- ``jieba``: the line cut into words by jieba (an optional package), each
  word tokenized on its own (the records keep the ids of a build without
  segmentation, see `tokenize_words`);
- ``whitespace``: words separated by spaces (pre-segmented text);
- ``ref``: Hugging Face's run_chinese_ref.py reference files, one JSON list
  per non-blank corpus line of the token positions ([CLS] = 0) that continue
  a Chinese word (what its LTP segmentation found); WordPiece "##" pieces
  continue their word too. The file for ``<corpus-dir>/a/b.txt`` is
  ``<ref-dir>/a/b.txt``.
"""

import json
import os

METHODS = ("none", "jieba", "whitespace", "ref")


def check_method(method, ref_dir):
  """A method of METHODS, --ref-dir exactly with "ref", jieba installed
  for "jieba": else an error naming the flag."""
  if method not in METHODS:
    raise ValueError(
      f"--word-segmentation must be one of {METHODS}, got {method!r}"
    )
  if (method == "ref") != bool(ref_dir):
    raise ValueError("--ref-dir goes with --word-segmentation ref (only)")
  if method == "ref" and not os.path.isdir(ref_dir):
    raise FileNotFoundError(f"--ref-dir {ref_dir} is not a directory")
  if method == "jieba":
    load_jieba()


def load_jieba():
  """The jieba module, quiet; a clear error when it is not installed."""
  try:
    import jieba  # optional: only --word-segmentation jieba needs it
  except ImportError:
    raise ImportError(
      "--word-segmentation jieba needs the jieba package: pip install jieba "
      '(or pip install -e ".[segmentation]")'
    ) from None
  import logging

  jieba.setLogLevel(logging.WARNING)
  return jieba


def _words_of(line, method, jieba):
  if method == "whitespace":
    return line.split()
  return [word for word in jieba.lcut(line) if word.strip()]


def tokenize_words(tokenizer, lines, method, jieba=None, id_to_token=None):
  """(ids, starts) of each line: its words tokenized one by one.

  A line whose words give other ids than the whole line (about 1% of
  Chinese Wikipedia lines: kana runs that WordPiece keeps as one word and
  jieba splits, digits next to letters) keeps the line's ids, and its words
  are WordPiece's: a token begins one unless it is a "##" piece.

  Args:
    tokenizer: has ``tokenize_to_ids(list of str)``.
    lines: non-blank lines.
    method: "jieba" or "whitespace".
    jieba: the jieba module (see `load_jieba`) for "jieba".
    id_to_token: {id: token} of the vocabulary.
  """
  words_per_line = [_words_of(line, method, jieba) for line in lines]
  flat = [word for words in words_per_line for word in words]
  pieces = iter(tokenizer.tokenize_to_ids(flat))
  whole_lines = tokenizer.tokenize_to_ids(lines)
  results = []
  for words, line_ids in zip(words_per_line, whole_lines):
    ids, starts = [], []
    for _ in words:
      word_ids = next(pieces)
      ids += word_ids
      starts += [True] + [False] * (len(word_ids) - 1)
    if ids != line_ids:
      ids = line_ids
      starts = wordpiece_starts(ids, id_to_token)
    results.append((ids, starts))
  return results


class RefFile:
  """The reference lists of one corpus file, in order of its non-blank
  lines (see the module doc)."""

  def __init__(self, corpus_path, ref_path, nonblank_lines):
    self.path = ref_path
    if not os.path.exists(ref_path):
      raise FileNotFoundError(
        f"--ref-dir has no reference file {ref_path} for corpus file "
        f"{corpus_path}"
      )
    with open(ref_path, encoding="utf-8") as handle:
      lines = [line for line in handle.read().splitlines() if line.strip()]
    if len(lines) != nonblank_lines:
      raise ValueError(
        f"{ref_path} has {len(lines)} reference lines but {corpus_path} has "
        f"{nonblank_lines} non-blank lines; run run_chinese_ref.py on this "
        "file again"
      )
    self.lines = lines

  def continued(self, index):
    """The token positions (0-based, without [CLS]) that continue a word in
    non-blank line ``index``."""
    try:
      positions = json.loads(self.lines[index])
    except json.JSONDecodeError as error:
      raise ValueError(
        f"{self.path} line {index + 1}: not a JSON list ({error})"
      ) from None
    if not isinstance(positions, list) or not all(
      isinstance(p, int) and p >= 1 for p in positions
    ):
      raise ValueError(
        f"{self.path} line {index + 1}: expected a JSON list of token "
        f"positions >= 1, got {self.lines[index][:60]}"
      )
    return {p - 1 for p in positions}


def wordpiece_starts(token_ids, id_to_token):
  """WordPiece's word starts: every token but a "##" piece."""
  return [not id_to_token[token].startswith("##") for token in token_ids]


def ref_starts(token_ids, continued, id_to_token, where):
  """The starts of one line's tokens from its reference positions; a
  position past the line's tokens is an error naming ``where``."""
  beyond = [p for p in continued if p >= len(token_ids)]
  if beyond:
    raise ValueError(
      f"{where}: reference position {max(beyond) + 1} is past the line's "
      f"{len(token_ids)} tokens; was it made with another vocabulary?"
    )
  starts = wordpiece_starts(token_ids, id_to_token)
  return [
    start and index not in continued for index, start in enumerate(starts)
  ]


def ref_path(corpus_dir, ref_dir, corpus_path):
  """The reference file of a corpus file (the same relative path)."""
  return os.path.join(ref_dir, os.path.relpath(corpus_path, corpus_dir))


class LineTokenizer:
  """Tokenizes a corpus file's non-blank lines, with word starts when a
  segmentation method is set (None otherwise).

  Args:
    tokenizer: has ``vocab`` and ``tokenize_to_ids(list of str)``.
    method: one of METHODS.
    corpus_dir, ref_dir: where the corpus and (for "ref") its reference
      files are.
  """

  def __init__(self, tokenizer, method="none", corpus_dir=None, ref_dir=None):
    check_method(method, ref_dir)
    self.tokenizer, self.method = tokenizer, method
    self.corpus_dir, self.ref_dir = corpus_dir, ref_dir
    self.jieba = load_jieba() if method == "jieba" else None
    self.id_to_token = {i: t for t, i in tokenizer.vocab.items()}
    self.ref = None

  def open_file(self, path, lines):
    """Starts a corpus file (``lines`` without their endings)."""
    if self.method == "ref":
      nonblank = sum(1 for line in lines if line.strip())
      self.ref = RefFile(
        path, ref_path(self.corpus_dir, self.ref_dir, path), nonblank
      )

  def tokenize(self, lines, first_index):
    """[(ids, starts or None)] of non-blank ``lines``, the first of which
    is the file's non-blank line ``first_index``."""
    if self.method in ("jieba", "whitespace"):
      return tokenize_words(
        self.tokenizer, lines, self.method, self.jieba, self.id_to_token
      )
    ids = self.tokenizer.tokenize_to_ids(lines)
    if self.method == "none":
      return [(line_ids, None) for line_ids in ids]
    results = []
    for offset, line_ids in enumerate(ids):
      index = first_index + offset
      continued = self.ref.continued(index)
      where = f"{self.ref.path} line {index + 1}"
      starts = ref_starts(line_ids, continued, self.id_to_token, where)
      results.append((line_ids, starts))
    return results
