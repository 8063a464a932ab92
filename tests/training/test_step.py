"""The one training step (training/step.py) and its gradient helpers
(training/gradients.py): clipping norms, the non-finite guard, and an
embedding's rows updated exactly as the dense gradient would."""

import numpy as np
import pytest
import tensorflow as tf

from model import optimization
from training import gradients
from training import step as step_lib


def test_official_clip_norm_counts_repeated_embedding_rows_apart():
  table = tf.Variable(tf.ones([5, 2]))
  bias = tf.Variable([1.0, 1.0])
  with tf.GradientTape() as tape:
    rows = tf.gather(table, [1, 1, 3]) * [[3.0, 4.0]]
    loss = tf.reduce_sum(rows) + tf.reduce_sum(bias * [1.0, 2.0])
  raw = tape.gradient(loss, [table, bias])
  slices = gradients.slice_norms(raw)
  grads = gradients.dense(raw)
  # three gathered rows of [3, 4]: 3 * 25; the bias gradient is dense
  assert float(slices[0]) == 75.0 and slices[1] is None
  # the true gradient has row 1 = [6, 8], row 3 = [3, 4]: norm^2 = 125
  assert float(tf.linalg.global_norm(grads)) ** 2 == pytest.approx(125 + 5)
  ctx = tf.distribute.get_replica_context()
  no_scale = optimization.create_optimizer([table, bias], 1.0, 10)
  norm = gradients.norm_of_slices(grads, slices, ctx, no_scale)
  assert float(norm) ** 2 == pytest.approx(75 + 5)


def embedding_loss(table, bias):
  def loss_fn(features, context):
    rows = tf.gather(table, features["ids"]) * [[3.0, 4.0]]
    per_row = tf.reduce_sum(bias * [1.0, 2.0])
    count = tf.cast(tf.size(features["ids"]), tf.float32)
    return tf.reduce_sum(rows) + per_row * count, {}

  return loss_fn


@pytest.mark.parametrize("micro_batches", [1, 2])
@pytest.mark.parametrize("official", [True, False])
def test_clip_norm_in_the_step_over_micro_batches(micro_batches, official):
  table = tf.Variable(tf.ones([5, 2]), name="emb/word_embeddings")
  bias = tf.Variable([1.0, 1.0], name="head/bias")
  optimizer = optimization.create_optimizer([table, bias], 1.0, 10)
  step = step_lib.make_replica_step(
    embedding_loss(table, bias),
    [table, bias],
    optimizer,
    accumulation_steps=micro_batches,
    official_norm=official,
  )
  result = step({"ids": tf.constant([1, 1, 3, 3])})
  # slices: four rows of [3, 4] (100); bias: 4 * [1, 2] (80). The dense
  # gradient: rows 1 and 3 of [6, 8] (200), whatever the micro-batches.
  expected = 100 + 80 if official else 200 + 80
  assert float(result["grad_norm"]) == pytest.approx(expected**0.5)


@pytest.mark.parametrize("official", [False, True])
def test_step_skips_the_update_when_a_gradient_is_not_finite(official):
  var = tf.Variable([1.0, 2.0], name="electra/x/kernel")
  optimizer = optimization.create_optimizer([var], 0.1, 10)

  def loss_fn(features, _):
    return tf.reduce_sum(var * features["scale"]), {}

  step = step_lib.make_replica_step(
    loss_fn, [var], optimizer, official_norm=official
  )
  step({"scale": tf.constant([np.inf, 1.0])})
  assert var.numpy().tolist() == [1.0, 2.0] and int(optimizer.global_step) == 0
  assert not optimizer.adam_v["electra/x/kernel"].numpy().any()
  step({"scale": tf.constant([1.0, 1.0])})
  assert int(optimizer.global_step) == 1 and var.numpy()[0] < 1.0


def test_rows_are_kept_only_for_one_uncompiled_pass_on_one_replica():
  assert gradients.keeps_embedding_rows(1, 1, jit_compile=False)
  assert not gradients.keeps_embedding_rows(1, 1, jit_compile=True)
  assert not gradients.keeps_embedding_rows(2, 1, jit_compile=False)
  assert not gradients.keeps_embedding_rows(1, 2, jit_compile=False)
  raw = [tf.IndexedSlices(tf.ones([3, 2]), tf.constant([1, 1, 4]), [5, 2])]
  rows = gradients.summable(raw, keep_rows=True)[0]
  assert isinstance(rows, tf.IndexedSlices)
  assert sorted(rows.indices.numpy().tolist()) == [1, 4]
  dense = gradients.summable(raw, keep_rows=False)[0]
  assert dense.numpy()[:, 0].tolist() == [0, 2, 0, 0, 1]


@pytest.mark.parametrize("float16_scale", [False, True])
def test_step_keeps_embedding_rows_and_updates_as_dense(float16_scale):
  """One micro-batch keeps the rows; two make every gradient dense: the
  same two steps give the same weights bit for bit."""

  def run(micro_batches):
    table = tf.Variable(
      np.random.default_rng(2).normal(size=(7, 3)).astype(np.float32),
      name="electra/embeddings/word_embeddings",
    )
    optimizer = optimization.create_optimizer(
      [table], 0.1, 10, weight_decay_rate=0.01, dynamic_loss_scale=float16_scale
    )

    def loss_fn(features, _):
      rows = tf.gather(table, features["ids"]) * [[0.01, -0.02, 0.03]]
      return tf.reduce_sum(rows**2), {}

    step = step_lib.make_replica_step(
      loss_fn, [table], optimizer, accumulation_steps=micro_batches
    )
    # each repeated row occurs once in each half of the batch
    for ids in ([1, 4, 1, 6], [4, 0, 4, 2]):
      step({"ids": tf.constant(ids)})
    return table.numpy(), int(optimizer.global_step)

  kept, steps = run(1)
  assert steps == 2
  densified, _ = run(2)
  assert np.array_equal(kept, densified)
