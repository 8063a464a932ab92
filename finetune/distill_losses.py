"""Knowledge-distillation losses between a student and a teacher, as pure
tensor functions (TextBrewer's losses and matches, Hinton et al.'s
temperature).

- `soft_label_loss`: T^2 * KL(teacher || student) of the tempered
  softmaxes. Its gradient is that of the soft cross-entropy TextBrewer
  uses; unlike the cross-entropy it is 0 when the student equals the
  teacher.
- `score_loss`: squared error to the teacher's score (regression).
- `hidden_mse`: mean squared error of hidden states over real tokens,
  through a projection when the widths differ.
- `attention_mse`: mean squared error of attention scores over pairs of
  real tokens.

Every function takes ``weights`` that zero what must not count (padding,
examples of no task) and returns per-example values [batch] that sum to
the batch's loss, so the trainer sums them as it sums the task losses.
"""

import tensorflow as tf


def _weighted_sum_over_rows(values, weights):
  """Sums ``values * weights`` over every axis but the first."""
  axes = list(range(1, values.shape.rank))
  return (
    tf.reduce_sum(values * weights, axis=axes) if axes else values * weights
  )


def soft_label_loss(student_logits, teacher_logits, temperature, weights):
  """T^2 KL(softmax(teacher / T) || softmax(student / T)) per example.

  Args:
    student_logits, teacher_logits: [batch, ..., classes].
    temperature: T > 0.
    weights: [batch, ...] (1 for what counts, e.g. a tagging task's real
      tokens); the result sums the weighted positions of each example.

  Returns:
    [batch] float32.
  """
  student = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature)
  teacher = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32) / temperature)
  kl = tf.reduce_sum(tf.exp(teacher) * (teacher - student), axis=-1)
  return temperature**2 * _weighted_sum_over_rows(kl, weights)


def score_loss(student_scores, teacher_scores, weights):
  """Squared difference of scores per example ([batch] each)."""
  difference = tf.cast(student_scores, tf.float32) - teacher_scores
  return tf.square(difference) * weights


def token_weights(input_mask, example_weights):
  """[batch, seq_len] float weights: real tokens of counted examples."""
  return tf.cast(input_mask, tf.float32) * example_weights[:, tf.newaxis]


def hidden_mse(student_hidden, teacher_hidden, weights, projection=None):
  """Per-example squared error of hidden states, summed over real tokens
  and divided by the batch's real tokens times the teacher's width (the
  batch's mean over tokens and units, split by example).

  Args:
    student_hidden: [batch, seq_len, student_width].
    teacher_hidden: [batch, seq_len, teacher_width].
    weights: [batch, seq_len] (see `token_weights`).
    projection: [student_width, teacher_width] kernel applied to the
      student's states (a learned map when the widths differ), or None.
  """
  student = tf.cast(student_hidden, tf.float32)
  if projection is not None:
    student = tf.einsum("bld,dh->blh", student, projection)
  squared = tf.reduce_sum(tf.square(student - teacher_hidden), axis=-1)
  width = tf.cast(tf.shape(teacher_hidden)[-1], tf.float32)
  count = tf.maximum(tf.reduce_sum(weights), 1.0) * width
  return _weighted_sum_over_rows(squared, weights) / count


def attention_mse(student_scores, teacher_scores, weights):
  """Per-example squared error of attention scores over (query, key)
  pairs of real tokens, divided by the batch's pairs times the heads.

  Args:
    student_scores, teacher_scores: [batch, heads, seq_len, seq_len]
      (pre-softmax scores; the head counts must agree).
    weights: [batch, seq_len] (see `token_weights`).
  """
  pairs = weights[:, :, tf.newaxis] * weights[:, tf.newaxis, :]
  squared = tf.reduce_sum(
    tf.square(tf.cast(student_scores, tf.float32) - teacher_scores), axis=1
  )
  heads = tf.cast(tf.shape(teacher_scores)[1], tf.float32)
  count = tf.maximum(tf.reduce_sum(pairs), 1.0) * heads
  return _weighted_sum_over_rows(squared, pairs) / count
