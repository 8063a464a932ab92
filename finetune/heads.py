"""The dense task head shared by classification and tagging."""

import tensorflow as tf

from model import layers


class DenseHead(tf.Module):
  """Dropout, then ``<scope>/dense`` (Glorot, as TF1 ``tf.layers.dense``).

  Args:
    scope: the variable scope, ``task_specific/<task>``.
    hidden_size: the encoder's width.
    num_outputs: labels (classification) or tags (tagging).
    first_token_only: classify the [CLS] vector instead of every token.
    dropout_rate: dropout on the head's input while training.
  """

  def __init__(
    self, scope, hidden_size, num_outputs, first_token_only, dropout_rate
  ):
    super().__init__(name=None)
    self.first_token_only = first_token_only
    self.dropout_rate = dropout_rate
    self.dense = layers.Dense(
      f"{scope}/dense",
      hidden_size,
      num_outputs,
      kernel_initializer=layers.glorot_uniform,
    )

  def __call__(self, sequence_output, training):
    """[batch, seq_len, hidden] -> float32 logits [batch, num_outputs], or
    [batch, seq_len, num_outputs] for every token."""
    reprs = sequence_output[:, 0] if self.first_token_only else sequence_output
    reprs = layers.dropout(reprs, self.dropout_rate, training)
    return tf.cast(self.dense(reprs), tf.float32)


def classification_head(scope, hidden_size, num_outputs):
  """The sentence (pair) classifier (or regressor) on [CLS], dropout 0.1."""
  return DenseHead(scope, hidden_size, num_outputs, True, dropout_rate=0.1)


def token_head(scope, hidden_size, num_tags):
  """The per-token tagger (no dropout, as the official tagging task)."""
  return DenseHead(scope, hidden_size, num_tags, False, dropout_rate=0.0)
