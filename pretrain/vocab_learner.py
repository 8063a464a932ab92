"""Learning a WordPiece vocabulary from a corpus (tensorflow-text's learner).

Words are split exactly as the tokenizer will split them (`FastBasicTokenizer`),
counted, and handed to tensorflow-text's WordPiece learner. The special
tokens take their bert-base-chinese ids by default ("bert" layout: [PAD] 0,
[unused1..99] 1-99, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103); the
"compact" layout puts [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0-4.
"""

import collections

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import (
  wordpiece_tokenizer_learner_lib as learner,
)

from model import fast_tokenization
from pretrain import corpus_reader

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def special_tokens(layout):
  """The leading tokens of a vocabulary in ``layout`` ("bert"/"compact")."""
  if layout == "bert":
    return (
      ["[PAD]"]
      + [f"[unused{i}]" for i in range(1, 100)]
      + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
  if layout == "compact":
    return list(SPECIALS)
  raise ValueError(
    f"Unknown vocab layout {layout!r}; expected 'bert' or 'compact'"
  )


def count_words(
  corpus_dir, do_lower_case=True, strip_accents=True, batch_size=4096
):
  """{word: count} over the corpus, words split as the tokenizer splits them."""
  basic = fast_tokenization.FastBasicTokenizer(do_lower_case, strip_accents)
  split = tf.function(
    basic.words, input_signature=[tf.TensorSpec([None], tf.string)]
  )
  counts = collections.Counter()
  for path in corpus_reader.list_corpus_files(corpus_dir):
    lines = [line for line in corpus_reader.read_lines(path)[0] if line.strip()]
    for begin in range(0, len(lines), batch_size):
      words = split(tf.constant(lines[begin : begin + batch_size]))
      counts.update(w.decode("utf-8") for w in words.flat_values.numpy())
  return counts


def learn_vocab(
  word_counts, vocab_size, layout="bert", max_unique_chars=30000, lower_thresh=1
):
  """A vocabulary list: the special tokens, then the learned WordPieces."""
  specials = special_tokens(layout)
  learned = learner.learn(
    list(word_counts.items()),
    vocab_size,
    reserved_tokens=[],
    lower_thresh=lower_thresh,
    max_unique_chars=max_unique_chars,
  )
  reserved = set(specials)
  return specials + [t for t in learned if t not in reserved]
