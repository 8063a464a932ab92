"""Vocabulary loading (the WordPiece tokenizers come with the data issue)."""

import collections

import tensorflow as tf

REQUIRED_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(vocab_file):
  """Loads a vocabulary file (one token per line) into {token: id}."""
  if not tf.io.gfile.exists(vocab_file):
    raise FileNotFoundError(f"vocab_file {vocab_file} does not exist")
  vocab = collections.OrderedDict()
  with tf.io.gfile.GFile(vocab_file, "r") as reader:
    for index, line in enumerate(reader):
      token = line.rstrip("\n").rstrip("\r").strip()
      if token and token not in vocab:
        vocab[token] = index
  return vocab


def check_special_tokens(vocab, vocab_file):
  """Raises a clear error when a BERT special token is missing."""
  missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in vocab]
  if missing:
    raise ValueError(f"vocab_file {vocab_file} lacks the special tokens "
                     f"{missing}")
