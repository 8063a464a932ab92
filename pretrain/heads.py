"""Output heads and losses of the generator and the discriminator.

Each loss is returned as a sum over tokens (``loss_sum``); the pretraining
model's `loss` divides it by the token count of the whole global batch
(`PretrainingModel.loss_denominators`), which makes a run on several
replicas equal to one run on the same global batch.
"""

import collections

import tensorflow as tf

from model import layers

SoftmaxOutput = collections.namedtuple(
  "SoftmaxOutput",
  ["logits", "per_example_loss", "preds", "loss_sum"],
)
DiscOutput = collections.namedtuple(
  "DiscOutput",
  [
    "logits",
    "per_example_loss",
    "probs",
    "preds",
    "labels",
    "loss_sum",
  ],
)


class TokenLogitsHead(tf.Module):
  """Dense + activation + LayerNorm, then logits against the embedding table.

  The official ``get_token_logits``. Variables under ``<scope>/``:
  ``dense/kernel`` [in, E], ``dense/bias`` [E], ``LayerNorm/{gamma,beta}`` [E]
  and ``output_bias`` [V].
  """

  def __init__(
    self, scope, input_size, embedding_size, vocab_size, bert_config
  ):
    super().__init__(name=None)
    self.dense = layers.Dense(
      f"{scope}/dense",
      input_size,
      embedding_size,
      activation=bert_config.hidden_act,
      kernel_initializer=layers.truncated_normal(bert_config.initializer_range),
    )
    self.layer_norm = layers.LayerNorm(scope, embedding_size)
    self.output_bias = layers.new_variable(
      scope, "output_bias", [vocab_size], tf.zeros
    )

  def __call__(self, reprs, embedding_table, fused=False):
    """Maps [B, N, in] representations to float32 logits [B, N, V];
    ``fused``: the dense's GELU and the LayerNorm as compiled kernels."""
    hidden = self.layer_norm(self.dense(reprs, fused), fused)
    table = layers.cast_like(embedding_table, hidden.dtype)
    flat = tf.reshape(hidden, [-1, table.shape[1]])
    logits = tf.matmul(flat, table, transpose_b=True)
    logits = tf.nn.bias_add(tf.cast(logits, tf.float32), self.output_bias)
    return tf.reshape(
      logits, tf.concat([tf.shape(hidden)[:-1], [table.shape[0]]], 0)
    )


class DiscriminatorHead(tf.Module):
  """Dense to hidden with the activation, then dense to one logit per token.

  Variables: ``discriminator_predictions/dense`` [H, H] (truncated normal) and
  ``discriminator_predictions/dense_1`` [H, 1] (TF1 dense default: Glorot).
  """

  def __init__(self, bert_config, scope="discriminator_predictions"):
    super().__init__(name=None)
    hidden = bert_config.hidden_size
    self.dense = layers.Dense(
      f"{scope}/dense",
      hidden,
      hidden,
      activation=bert_config.hidden_act,
      kernel_initializer=layers.truncated_normal(bert_config.initializer_range),
    )
    self.dense_1 = layers.Dense(
      f"{scope}/dense_1", hidden, 1, kernel_initializer=layers.glorot_uniform
    )

  def __call__(self, sequence_output, fused=False):
    """Maps [B, L, H] to float32 logits [B, L]; ``fused``: the first
    dense's GELU as a compiled kernel."""
    logits = self.dense_1(self.dense(sequence_output, fused))
    return tf.cast(tf.squeeze(logits, -1), tf.float32)


def generator_loss(logits, targets, weights):
  """The generator's (masked-LM or cloze) loss: the weighted softmax
  cross-entropy of ``logits`` [B, N, V] at ``targets``.

  Args:
    logits: [B, N, V] float32.
    targets: [B, N] int token ids.
    weights: [B, N] float32, 0 for unused slots.

  Returns:
    A `SoftmaxOutput`; ``loss_sum`` is the weighted sum of the losses.
  """
  log_probs = tf.nn.log_softmax(logits)
  # the official one-hot sum: the same values as a gather, and its gradient
  # is one dense multiply where a gather's is a slow scatter into [B, N, V]
  one_hot = tf.one_hot(targets, logits.shape[-1], dtype=log_probs.dtype)
  per_example_loss = -tf.reduce_sum(log_probs * one_hot, -1)
  return SoftmaxOutput(
    logits=logits,
    per_example_loss=per_example_loss,
    preds=tf.argmax(logits, -1, output_type=tf.int32),
    loss_sum=tf.reduce_sum(weights * per_example_loss),
  )


def discriminator_loss(logits, labels, input_mask):
  """The discriminator's replaced-token-detection loss over real tokens.

  Args:
    logits: [B, L] float32.
    labels: [B, L] int, 1 where the token was replaced.
    input_mask: [B, L] int, 1 for real tokens.

  Returns:
    A `DiscOutput`; ``loss_sum`` is the sum over real tokens.
  """
  weights = tf.cast(input_mask, tf.float32)
  losses = (
    tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.float32), logits=logits
    )
    * weights
  )
  per_example_loss = tf.reduce_sum(losses, -1) / (
    1e-6 + tf.reduce_sum(weights, -1)
  )
  return DiscOutput(
    logits=logits,
    per_example_loss=per_example_loss,
    probs=tf.nn.sigmoid(logits),
    preds=tf.cast(logits > 0, tf.int32),
    labels=labels,
    loss_sum=tf.reduce_sum(losses),
  )
