"""The one training step: loss -> gradients -> clipped official update.

`make_replica_step` serves pretraining and fine-tuning under any
`tf.distribute` strategy (the default strategy included):

  1. optional global context: ``prepare_fn(features)`` summed over the
     replicas (pretraining: the loss denominators of the global batch, which
     depend only on the inputs);
  2. the batch as ``accumulation_steps`` micro-batches, each a forward and
     backward pass (optionally compiled with XLA), the loss scaled for
     float16;
  3. the gradients summed over micro-batches and replicas, unscaled, as a
     gradient path says (`training/gradients.py`: dense, or an embedding's
     rows on one replica, with the usual or the official clipping norm);
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


def split_batch(features, parts):
  """``parts`` micro-batches of a batch dict (the batch must divide by it)."""
  if parts == 1:
    return [features]
  pieces = {name: tf.split(value, parts) for name, value in features.items()}
  return [{name: pieces[name][i] for name in features} for i in range(parts)]


def _add(total, grads):
  if total is None:
    return grads
  return [None if t is None else t + g for t, g in zip(total, grads)]


def _global_context(prepare_fn, features, ctx):
  """``prepare_fn(features)`` summed over the replicas (None without one)."""
  if prepare_fn is None:
    return None
  local = prepare_fn(features)
  return tf.nest.pack_sequence_as(
    local, ctx.all_reduce(SUM, tf.nest.flatten(local))
  )


def _add_reports(total, report):
  return {k: total.get(k, 0.0) + v for k, v in report.items()}


def _micro_step_fn(loss_fn, variables, optimizer, jit_compile):
  """(features, context, path) -> (what ``path`` collects of the gradients,
  loss, report) of a micro-batch, the loss scaled for float16 (the
  gradients stay scaled)."""

  def micro_step(features, context, path):
    with tf.GradientTape() as tape:
      total, report = loss_fn(features, context)
      scaled = optimizer.scale_loss(total)
    return path.collect(tape.gradient(scaled, variables)), total, report

  if jit_compile:
    return tf.function(micro_step, jit_compile=True, autograph=False)
  return micro_step


def _summed_micro_steps(micro_step, features, context, parts, path):
  """The sums of ``micro_step``'s gradients and slice norms, loss and
  report over the ``parts`` micro-batches of ``features``."""
  grads, slices, total, report = None, None, 0.0, {}
  for micro in split_batch(features, parts):
    (micro_grads, micro_slices), micro_total, micro_report = micro_step(
      micro, context, path
    )
    grads = _add(grads, micro_grads)
    slices = _add(slices, micro_slices)
    total += micro_total
    report = _add_reports(report, micro_report)
  return (grads, slices), total, report


def make_replica_step(
  loss_fn,
  variables,
  optimizer,
  prepare_fn=None,
  accumulation_steps=1,
  jit_compile=False,
  clip_norm=1.0,
  official_norm=False,
  gradient_path=None,
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
    clip_norm: global-norm clipping threshold (official: 1.0).
    official_norm: clip by the official GPU/CPU norm, which takes an
      embedding gradient's IndexedSlices values (repeated rows unsummed)
      instead of the gradient itself; dense gradients are unaffected.
    gradient_path: a `gradients.DensePath`-like object to use instead of
      the one `gradients.choose` picks for the step.

  Returns:
    A function features -> {"loss", and the names of ``loss_fn``'s report},
    each this replica's share (sum over replicas for the global value).
  """
  micro_step = _micro_step_fn(loss_fn, variables, optimizer, jit_compile)

  # the models are plain Python control flow over static shapes: skipping
  # AutoGraph's conversion halves the tracing time
  @tf.autograph.experimental.do_not_convert
  def step(features):
    ctx = tf.distribute.get_replica_context()
    path = gradient_path or gradients.choose(
      accumulation_steps == 1 and ctx.num_replicas_in_sync == 1,
      jit_compile,
      official_norm,
    )
    context = _global_context(prepare_fn, features, ctx)
    (grads, slices), total, report = _summed_micro_steps(
      micro_step, features, context, accumulation_steps, path
    )
    grads, norm = path.finish(grads, slices, ctx, optimizer)
    # any non-finite gradient makes the norm non-finite (one scalar test
    # instead of a pass over every gradient); so does a norm that overflows,
    # where clipping would turn every gradient into NaN
    finite = tf.math.is_finite(norm)
    grads = optimization.clip_by_global_norm(grads, clip_norm, norm)
    optimizer.apply_gradients(zip(grads, variables), finite=finite)
    return dict(report, loss=total)

  return step
