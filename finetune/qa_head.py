"""The span-extraction QA head, with the official variable names."""

import tensorflow as tf

from model import layers


class QAHead(tf.Module):
  """Start logits, and end logits either independent or, with
  ``joint_prediction`` (official), conditioned on the start: a 512-wide GELU
  layer over [start token; token] scores each end.

  Variables under ``task_specific/<task>/`` are named as the official
  unnamed ``tf.layers.dense`` calls were, in their order: ``dense`` (start),
  ``qa_hidden`` and ``dense_1`` (end), then the answerable classifier's
  ``dense_2`` (and ``dense_3``); all Glorot-uniform, TF1's default.
  """

  def __init__(
    self,
    scope,
    hidden_size,
    joint,
    answerable=False,
    answerable_uses_start_logits=True,
  ):
    super().__init__(name=None)
    init = layers.glorot_uniform
    self.joint = joint
    self.answerable = answerable
    self.uses_start = answerable_uses_start_logits
    self.start = layers.Dense(
      f"{scope}/dense", hidden_size, 1, kernel_initializer=init
    )
    if joint:
      self.qa_hidden = layers.Dense(
        f"{scope}/qa_hidden",
        2 * hidden_size,
        512,
        activation="gelu",
        kernel_initializer=init,
      )
      self.qa_logits = layers.Dense(
        f"{scope}/dense_1", 512, 1, kernel_initializer=init
      )
    else:
      self.end = layers.Dense(
        f"{scope}/dense_1", hidden_size, 1, kernel_initializer=init
      )
    if answerable:
      self._build_answerable(scope, hidden_size, init)

  def _build_answerable(self, scope, hidden_size, init):
    width = 2 * hidden_size if self.uses_start else hidden_size
    if self.uses_start:
      self.answerable_hidden = layers.Dense(
        f"{scope}/dense_2",
        width,
        512,
        activation="gelu",
        kernel_initializer=init,
      )
      width = 512
    self.answerable_logit = layers.Dense(
      f"{scope}/dense_{3 if self.uses_start else 2}",
      width,
      1,
      kernel_initializer=init,
    )

  def no_answer_logit(self, sequence, start_logits):
    """The official answerable classifier: [CLS] (with the start-weighted
    token average) -> logit of "no answer" [batch]."""
    reprs = sequence[:, 0]
    if self.uses_start:
      start_p = tf.cast(tf.nn.softmax(start_logits), sequence.dtype)
      start_feature = tf.einsum("bl,blh->bh", start_p, sequence)
      reprs = self.answerable_hidden(tf.concat([reprs, start_feature], -1))
    return tf.cast(self.answerable_logit(reprs)[:, 0], tf.float32)

  def end_given_start(self, sequence, start_reprs):
    """End logits [batch, seq_len] given one start representation per row
    [batch, hidden], against every token of ``sequence`` [batch, seq_len,
    hidden]."""
    return self.end_given_starts(sequence, start_reprs[:, tf.newaxis])[:, 0]

  def end_given_starts(self, sequence, start_reprs):
    """End logits [batch, starts, seq_len] for several start
    representations per row [batch, starts, hidden].

    The official layer is ``qa_hidden`` over [start token; token]. Its
    kernel is applied here in halves, the start's once per start and the
    token's once per token, and the two added: the concatenation's sum (up
    to rounding) without its [batch, starts, seq_len, 2 * hidden] input
    and the matmul over it, which cost more than the encoder.
    """
    hidden = self.qa_hidden
    kernel = layers.cast_like(hidden.kernel, sequence.dtype)
    bias = layers.cast_like(hidden.bias, sequence.dtype)
    width = sequence.shape[-1]
    # [batch, starts, 512] and [batch, seq_len, 512]
    from_start = _matmul(start_reprs, kernel[:width])
    from_token = tf.nn.bias_add(_matmul(sequence, kernel[width:]), bias)
    pair = hidden.activation(
      from_start[:, :, tf.newaxis] + from_token[:, tf.newaxis]
    )
    return tf.cast(self.qa_logits(pair)[..., 0], tf.float32)


def _matmul(x, kernel):
  """[batch, n, in] @ [in, out] -> [batch, n, out] as one 2-D matmul (the
  gradient of a batched einsum is far slower on CPU)."""
  shape = tf.shape(x)
  y = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
  return tf.reshape(y, [shape[0], shape[1], kernel.shape[1]])
