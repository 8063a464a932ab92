"""Distillation losses against hand computations."""

import math

import numpy as np
import pytest
import tensorflow as tf

from finetune import distill_losses


def test_soft_labels_by_hand():
  student = tf.constant([[0.0, 0.0]])
  teacher = tf.constant([[0.0, math.log(3.0)]])
  one = distill_losses.soft_label_loss(student, teacher, 1.0, tf.ones([1]))
  # teacher (1/4, 3/4) against (1/2, 1/2)
  expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
  assert one.numpy()[0] == pytest.approx(expected, rel=1e-6)
  two = distill_losses.soft_label_loss(student, teacher, 2.0, tf.ones([1]))
  high = math.sqrt(3.0) / (1.0 + math.sqrt(3.0))  # softmax(0, ln 3 / 2)
  expected = 4.0 * (
    (1 - high) * math.log((1 - high) / 0.5) + high * math.log(high / 0.5)
  )
  assert two.numpy()[0] == pytest.approx(expected, rel=1e-6)


def test_the_gradient_is_t_times_the_probability_gap():
  student = tf.Variable([[0.3, -1.2, 2.0]])
  teacher = tf.constant([[1.0, 0.5, -0.5]])
  temperature = 4.0
  with tf.GradientTape() as tape:
    loss = distill_losses.soft_label_loss(
      student, teacher, temperature, tf.ones([1])
    )
  gradient = tape.gradient(loss, student).numpy()
  p_student = np.exp(student.numpy() / 4) / np.exp(student.numpy() / 4).sum()
  p_teacher = np.exp(teacher.numpy() / 4) / np.exp(teacher.numpy() / 4).sum()
  np.testing.assert_allclose(
    gradient, temperature * (p_student - p_teacher), atol=1e-6
  )


def test_a_student_equal_to_its_teacher_has_no_loss():
  logits = tf.constant([[0.4, -2.0, 1.5], [3.0, 3.0, -1.0]])
  loss = distill_losses.soft_label_loss(logits, logits, 8.0, tf.ones([2]))
  np.testing.assert_allclose(loss.numpy(), 0.0, atol=1e-6)
  hidden = tf.random.stateless_normal([2, 5, 7], seed=[1, 2])
  weights = tf.ones([2, 5])
  assert np.all(distill_losses.hidden_mse(hidden, hidden, weights) == 0.0)


def test_weights_leave_out_padding_and_examples_of_no_task():
  student = tf.random.stateless_normal([3, 4, 5], seed=[3, 4])
  teacher = tf.random.stateless_normal([3, 4, 5], seed=[5, 6])
  mask = tf.constant([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
  weights = distill_losses.token_weights(mask, tf.constant([1.0, 1.0, 0.0]))
  per_token = distill_losses.soft_label_loss(student, teacher, 2.0, weights)
  singles = [
    distill_losses.soft_label_loss(
      student[b : b + 1, t], teacher[b : b + 1, t], 2.0, tf.ones([1])
    ).numpy()[0]
    for b, t in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
  ]
  np.testing.assert_allclose(
    per_token.numpy(), [sum(singles[:3]), sum(singles[3:]), 0.0], rtol=1e-5
  )


def test_hidden_states_through_the_projection_by_hand():
  student = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])  # [1, 2, 2]
  teacher = tf.constant([[[1.0, 1.0, 1.0], [9.0, 9.0, 9.0]]])  # [1, 2, 3]
  projection = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
  # projected: token 0 -> (1, 2, 3), token 1 (padding) ignored
  weights = tf.constant([[1.0, 0.0]])
  loss = distill_losses.hidden_mse(student, teacher, weights, projection)
  assert loss.numpy()[0] == pytest.approx((0 + 1 + 4) / 3.0)


def test_attention_scores_of_padding_pairs_do_not_count():
  teacher = tf.random.stateless_normal([2, 3, 4, 4], seed=[7, 8])
  student = teacher + 1.0
  weights = tf.constant([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
  loss = distill_losses.attention_mse(student, teacher, weights)
  # every counted pair is off by 1 in each of the 3 heads
  np.testing.assert_allclose(loss.numpy(), [9 / 13, 4 / 13], rtol=1e-6)
  changed = tf.tensor_scatter_nd_update(student, [[0, 1, 3, 0]], [50.0])
  again = distill_losses.attention_mse(changed, teacher, weights)
  np.testing.assert_allclose(again.numpy(), loss.numpy(), rtol=1e-6)


def test_scores_are_squared_differences():
  loss = distill_losses.score_loss(
    tf.constant([0.5, 2.0]), tf.constant([1.0, -1.0]), tf.constant([1.0, 0.0])
  )
  np.testing.assert_allclose(loss.numpy(), [0.25, 0.0])
