"""A checkpoint's vocabulary cut to the tokens some texts use.

In CLUE-tiny's shape the word embeddings are 21,128 x 312 of the encoder's
~11.3M parameters; one task's texts use a fraction of those rows. Pruning
keeps the special tokens and every token (or the ``keep_top`` most
frequent) that the texts tokenize to, in their old order, and gathers the
rows of every vocabulary-indexed tensor (the word embeddings, the
generator's own when untied, its output bias) to follow the new ids.

WordPiece on the kept tokens gives the texts the pruning was built from
the same tokens as before: each greedy longest match was kept, and no
longer piece can appear. A word of another text whose piece was dropped
is split with the pieces left, or becomes [UNK] as a whole, as WordPiece
does with any word it cannot match (for Chinese: a dropped character is
[UNK]).

Example:
  >>> vocab = {"[PAD]": 0, "[UNK]": 1, "你": 2, "好": 3, "吗": 4}
  >>> counts = token_counts([["你", "好"], ["好"]])
  >>> kept_ids(vocab, counts, always=("[PAD]", "[UNK]"))
  [0, 1, 2, 3]
"""

import collections
import json

import numpy as np

# fields of CLUE-style rows that hold no text the model reads
NOT_TEXT_FIELDS = ("id", "idx", "label", "label_desc", "label_des", "keywords")


def strings_in(value, fields=None):
  """Every string inside a parsed JSON value, depth first.

  Args:
    value: a parsed JSON value.
    fields: the dict keys whose values (and every string under them) are
      text; None: every key but `NOT_TEXT_FIELDS`. Containers under other
      keys are searched for these fields.
  """
  if isinstance(value, str):
    yield value
  elif isinstance(value, list):
    for item in value:
      yield from strings_in(item, fields)
  elif isinstance(value, dict):
    for key, item in value.items():
      if fields is None:
        if key not in NOT_TEXT_FIELDS:
          yield from strings_in(item)
      elif key in fields:
        yield from strings_in(item)
      elif isinstance(item, (dict, list)):
        yield from strings_in(item, fields)


def texts_of(path, fields=None):
  """The texts of a data file: a JSON document (SQuAD, C3) or JSON lines
  (CLUE, CLUENER): their strings (see `strings_in`); any other file
  (plain text, TSV, CoNLL): its lines. Lines split on "\\n" only."""
  with open(path, encoding="utf-8") as f:
    data = f.read()
  stripped = data.lstrip()
  if stripped[:1] in ("{", "["):
    try:
      return list(strings_in(json.loads(stripped), fields))
    except ValueError:
      pass  # JSON lines, or text that starts with a bracket
  texts = []
  for line in data.split("\n"):
    if not line.strip():
      continue
    try:
      row = json.loads(line) if line.lstrip()[:1] in ("{", "[") else line
    except ValueError:
      row = line
    texts.extend(strings_in(row, fields))
  return texts


class TextTokens:
  """A text's tokens as every task reads it: the text tokenized whole
  (classification, pairs, QA) and each of its characters alone (the
  taggers, which tokenize character by character).

  Args:
    tokenize: str -> list of token strings.
  """

  def __init__(self, tokenize):
    self.tokenize = tokenize
    self.by_char = {}

  def __call__(self, text):
    tokens = self.tokenize(text)
    for char in text:
      if char not in self.by_char:
        self.by_char[char] = self.tokenize(char)
      tokens.extend(self.by_char[char])
    return tokens


def token_counts(token_lists):
  """A Counter of the tokens of several texts' token lists."""
  counts = collections.Counter()
  for tokens in token_lists:
    counts.update(tokens)
  return counts


def kept_ids(vocab, counts, always, keep_top=None):
  """The old ids to keep, ascending: the tokens of ``always`` and of
  ``counts`` (the ``keep_top`` most frequent others, ties broken by old
  id, when given).

  Args:
    vocab: {token: old id}.
    counts: {token: occurrences} (tokens outside ``vocab``, such as a
      word's [UNK], are ignored).
    always: tokens kept whatever the counts ([PAD], [UNK], [CLS], ...).
    keep_top: at most this many tokens of ``counts`` (None: all of them).
  """
  seen = [t for t in counts if t in vocab and t not in always]
  if keep_top is not None:
    seen = sorted(seen, key=lambda t: (-counts[t], vocab[t]))[:keep_top]
  return sorted({vocab[t] for t in always} | {vocab[t] for t in seen})


def is_vocabulary_indexed(name, shape, vocab_rows):
  """Whether a variable has one row per token: word embeddings (the
  discriminator's, an untied generator's) and an MLM head's output bias."""
  if not shape or shape[0] != vocab_rows:
    return False
  return name.endswith("/word_embeddings") or name.endswith(
    "_predictions/output_bias"
  )


def gather_rows(tensors, ids, vocab_rows):
  """``tensors`` ({name: array}) with the rows ``ids`` of every
  vocabulary-indexed one, in that order; the others unchanged."""
  ids = np.asarray(ids, np.int64)
  return {
    name: (
      np.take(value, ids, axis=0)
      if is_vocabulary_indexed(name, list(np.shape(value)), vocab_rows)
      else value
    )
    for name, value in tensors.items()
  }


def dropped_counts(token_lists, kept_tokens):
  """(tokens, tokens not kept, texts with a token not kept) over several
  texts' token lists; an [UNK] of the old vocabulary counts as kept (it
  was [UNK] before pruning too)."""
  total = dropped = texts = 0
  for tokens in token_lists:
    missing = sum(1 for t in tokens if t not in kept_tokens)
    total += len(tokens)
    dropped += missing
    texts += missing > 0
  return total, dropped, texts
