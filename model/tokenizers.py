"""Choosing a tokenizer: WordPiece (fast or pure Python) or SentencePiece."""

from model import fast_tokenization
from model import tokenization


class SentencePieceTokenizer:
  """A SentencePiece model (``.model`` file) as the vocabulary.

  The model must define the BERT special tokens ([PAD], [UNK], [CLS], [SEP],
  [MASK]) as pieces, e.g. trained with ``user_defined_symbols``.
  """

  def __init__(self, model_file, do_lower_case=False):
    import sentencepiece  # imported here: only this tokenizer needs it

    self.processor = sentencepiece.SentencePieceProcessor(model_file=model_file)
    self.do_lower_case = do_lower_case
    self.vocab = {
      self.processor.id_to_piece(i): i
      for i in range(self.processor.get_piece_size())
    }
    tokenization.check_special_tokens(self.vocab, model_file)

  def tokenize_to_ids(self, texts):
    texts = [t.lower() for t in texts] if self.do_lower_case else list(texts)
    return self.processor.encode(texts)

  def tokenize(self, text):
    return [
      self.processor.id_to_piece(i) for i in self.tokenize_to_ids([text])[0]
    ]


def get_tokenizer(
  vocab_file, do_lower_case=True, strip_accents=True, fast=True
):
  """A tokenizer with ``vocab`` and ``tokenize_to_ids(list of str)``.

  Args:
    vocab_file: a WordPiece vocab (one token per line) or a SentencePiece
      ``.model`` file.
    fast: use the tensorflow-text path (same ids, several times faster).
  """
  if vocab_file.endswith(".model"):
    return SentencePieceTokenizer(vocab_file, do_lower_case)
  if fast:
    return fast_tokenization.FastTokenizer(
      vocab_file, do_lower_case, strip_accents
    )
  return tokenization.FullTokenizer(vocab_file, do_lower_case, strip_accents)
