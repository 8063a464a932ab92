"""The one training step: loss -> gradients -> clipped official update.

`make_replica_step` serves pretraining and fine-tuning under any
`tf.distribute` strategy (the default strategy included):

  1. optional global context: ``prepare_fn(features)`` summed over the
     replicas (pretraining: the loss denominators of the global batch, which
     depend only on the inputs);
  2. the batch as ``accumulation_steps`` micro-batches, each a forward and
     backward pass (optionally compiled with XLA), the loss scaled for
     float16;
  3. the gradients summed over micro-batches and replicas, unscaled;
  4. global-norm clipping at 1.0 and the update, skipped when the norm is
     not finite.

Because every loss is normalised by global quantities (the context, or a
fixed batch size) and gradients are summed, a step on R replicas with k
micro-batches equals one step on one device with the whole batch.
"""

import tensorflow as tf

from model import optimization
from training import gradients

SUM = tf.distribute.ReduceOp.SUM
CLIP_NORM = 1.0  # the official global-norm clipping threshold


def split_batch(features, parts):
  """``parts`` micro-batches of a batch dict (the batch must divide by it)."""
  if parts == 1:
    return [features]
  pieces = {name: tf.split(value, parts) for name, value in features.items()}
  return [{name: pieces[name][i] for name in features} for i in range(parts)]


def _add(total, values):
  if total is None:
    return values
  return [None if t is None else t + v for t, v in zip(total, values)]


def _global_context(prepare_fn, features, ctx):
  """``prepare_fn(features)`` summed over the replicas (None without one)."""
  if prepare_fn is None:
    return None
  local = prepare_fn(features)
  return tf.nest.pack_sequence_as(
    local, ctx.all_reduce(SUM, tf.nest.flatten(local))
  )


def _accumulate(micro_step, micro_batches, context, keep_rows):
  """The sums of ``micro_step``'s gradients, slice norms, losses and
  reports over ``micro_batches``."""
  grads, slices, total, report = None, None, 0.0, {}
  for micro in micro_batches:
    micro_grads, micro_slices, micro_total, micro_report = micro_step(
      micro, context, keep_rows
    )
    grads = _add(grads, micro_grads)
    slices = _add(slices, micro_slices)
    total += micro_total
    report = {k: report.get(k, 0.0) + v for k, v in micro_report.items()}
  return grads, slices, total, report


def make_replica_step(
  loss_fn,
  variables,
  optimizer,
  prepare_fn=None,
  accumulation_steps=1,
  jit_compile=False,
  official_norm=False,
):
  """A replica function running one optimizer step on ``features``.

  Args:
    loss_fn: (micro-batch features, context) -> (this replica's share of the
      loss, {name: scalar share}).
    variables: the trainable variables.
    optimizer: an `optimization.AdamWeightDecay`.
    prepare_fn: optional features -> nested tensors summed over replicas and
      passed to ``loss_fn`` as the context (None: the context is None).
    accumulation_steps: micro-batches per step.
    jit_compile: compile each forward/backward pass with XLA.
    official_norm: clip by the official GPU/CPU norm, which takes an
      embedding gradient's IndexedSlices values (repeated rows unsummed)
      instead of the gradient itself; dense gradients are unaffected.

  Returns:
    A function features -> {"loss", the names of ``loss_fn``'s report:
    this replica's share (sum over replicas for the global value), and
    "grad_norm": the clipping norm of the global gradient (the same on
    every replica)}.
  """

  def micro_step(features, context, keep_rows):
    """(summable gradients, slice norms or None, loss, report) of a
    micro-batch; the gradients stay scaled by the loss scale."""
    with tf.GradientTape() as tape:
      total, report = loss_fn(features, context)
      scaled = optimizer.scale_loss(total)
    raw = tape.gradient(scaled, variables)
    slices = gradients.slice_norms(raw) if official_norm else None
    return gradients.summable(raw, keep_rows), slices, total, report

  if jit_compile:
    micro_step = tf.function(micro_step, jit_compile=True, autograph=False)

  # the models are plain Python control flow over static shapes: skipping
  # AutoGraph's conversion halves the tracing time
  @tf.autograph.experimental.do_not_convert
  def step(features):
    ctx = tf.distribute.get_replica_context()
    keep_rows = gradients.keeps_embedding_rows(
      accumulation_steps, ctx.num_replicas_in_sync, jit_compile
    )
    context = _global_context(prepare_fn, features, ctx)
    grads, slices, total, report = _accumulate(
      micro_step, split_batch(features, accumulation_steps), context, keep_rows
    )
    grads = optimizer.unscale(ctx.all_reduce(SUM, grads))
    # clip: any non-finite gradient makes the norm non-finite (one scalar
    # test instead of a pass over every gradient); so does a norm that
    # overflows, where clipping would turn every gradient into NaN
    if official_norm:
      norm = gradients.norm_of_slices(grads, slices, ctx, optimizer)
    else:
      norm = tf.linalg.global_norm(grads)
    finite = tf.math.is_finite(norm)
    grads = optimization.clip_by_global_norm(grads, CLIP_NORM, norm)
    # apply
    optimizer.apply_gradients(zip(grads, variables), finite=finite)
    return dict(report, loss=total, grad_norm=norm)

  return step
