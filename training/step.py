"""The one training step: loss -> gradients -> clipped official update.

`make_replica_step` serves pretraining and fine-tuning under any
`tf.distribute` strategy (the default strategy included):

  1. optional global context: ``prepare_fn(features)`` summed over the
     replicas (pretraining: the loss denominators of the global batch, which
     depend only on the inputs);
  2. the batch as ``accumulation_steps`` micro-batches, each a forward and
     backward pass (optionally compiled with XLA), the loss scaled for
     float16;
  3. the gradients summed over micro-batches and replicas, unscaled: dense,
     except that on one replica without micro-batches a sparse (embedding)
     gradient keeps only its rows, which the optimizer updates as if dense;
  4. global-norm clipping at 1.0 and the update, skipped when the norm is
     not finite.

Because every loss is normalised by global quantities (the context, or a
fixed batch size) and gradients are summed, a step on R replicas with k
micro-batches equals one step on one device with the whole batch.
"""

import tensorflow as tf

from model import optimization

SUM = tf.distribute.ReduceOp.SUM


def dense(grads):
  """Gradients as dense tensors.

  Embedding gradients arrive as IndexedSlices with repeated rows; the norm of
  their values is not the norm of the gradient, which would make global-norm
  clipping depend on how the batch is split. (The official code on GPU had
  this artefact; on TPU, with one-hot lookups, it did not.)
  """
  return [None if g is None else tf.convert_to_tensor(g) for g in grads]


def with_rows_summed(grads):
  """Gradients with each IndexedSlices' repeated rows summed (see
  `optimization.summed_rows`); dense ones unchanged. The optimizer updates
  such a gradient's rows without densifying it, bit for bit as densified."""
  return [
    optimization.summed_rows(g) if isinstance(g, tf.IndexedSlices) else g
    for g in grads
  ]


def slice_norms(grads):
  """Squared norm of each IndexedSlices gradient's values (a row repeated in
  the slices counts once per occurrence, as in the official GPU/CPU global
  norm); None for dense gradients."""
  return [
    tf.reduce_sum(tf.square(g.values))
    if isinstance(g, tf.IndexedSlices)
    else None
    for g in grads
  ]


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


def _norm_of_slices(grads, slices, ctx, optimizer):
  """The official clipping norm: for a sparse gradient the squared norm of
  its slices (micro-batches and replicas concatenate), for a dense one its
  own; ``grads`` are summed and unscaled, ``slices`` per replica, scaled."""
  sparse = [s for s in slices if s is not None]
  sparse = iter(ctx.all_reduce(SUM, sparse) if sparse else [])
  scale_sq = 1.0 if optimizer.loss_scale is None else optimizer.loss_scale**2
  total = 0.0
  for grad, part in zip(grads, slices):
    if grad is None:
      continue
    if part is None:
      total += tf.reduce_sum(tf.square(grad))
    else:
      total += next(sparse) / scale_sq
  return tf.sqrt(total)


def _clipping_norm(grads, slices, ctx, optimizer, of_slices):
  """The global norm of the (summed, unscaled) ``grads``, or with
  ``of_slices`` the official GPU/CPU norm (see `_norm_of_slices`)."""
  if of_slices:
    return _norm_of_slices(grads, slices, ctx, optimizer)
  return tf.linalg.global_norm(grads)


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


def _micro_step_fn(loss_fn, variables, optimizer, jit_compile, norms):
  """(features, context, whole) -> (gradients, loss, report, `slice_norms`
  when ``norms`` else Nones) of a micro-batch, the loss scaled for float16
  (the gradients and norms stay scaled). The gradients are dense unless
  ``whole`` (the micro-batch is the step's whole batch on one replica) and
  the pass is not compiled: then sparse ones keep their rows, summed."""

  def micro_step(features, context, whole):
    with tf.GradientTape() as tape:
      total, report = loss_fn(features, context)
      scaled = optimizer.scale_loss(total)
    raw = tape.gradient(scaled, variables)
    sparse = slice_norms(raw) if norms else [None] * len(raw)
    keep_rows = whole and not jit_compile
    grads = with_rows_summed(raw) if keep_rows else dense(raw)
    return grads, total, report, sparse

  if jit_compile:
    return tf.function(micro_step, jit_compile=True, autograph=False)
  return micro_step


def _summed_micro_steps(micro_step, features, context, parts, whole):
  """The sums of ``micro_step``'s gradients, loss, report and slice norms
  over the ``parts`` micro-batches of ``features``."""
  grads, total, report, slices = None, 0.0, {}, None
  for micro in split_batch(features, parts):
    micro_grads, micro_total, micro_report, norms = micro_step(
      micro, context, whole
    )
    grads = _add(grads, micro_grads)
    slices = _add(slices, norms)
    total += micro_total
    report = _add_reports(report, micro_report)
  return grads, total, report, slices


def make_replica_step(
  loss_fn,
  variables,
  optimizer,
  prepare_fn=None,
  accumulation_steps=1,
  jit_compile=False,
  clip_norm=1.0,
  clip_norm_of_slices=False,
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
    clip_norm_of_slices: clip by the official GPU/CPU norm, which takes an
      embedding gradient's IndexedSlices values (repeated rows unsummed)
      instead of the gradient itself; dense gradients are unaffected.

  Returns:
    A function features -> {"loss", and the names of ``loss_fn``'s report},
    each this replica's share (sum over replicas for the global value).
  """

  micro_step = _micro_step_fn(
    loss_fn, variables, optimizer, jit_compile, clip_norm_of_slices
  )

  # the models are plain Python control flow over static shapes: skipping
  # AutoGraph's conversion halves the tracing time
  @tf.autograph.experimental.do_not_convert
  def step(features):
    ctx = tf.distribute.get_replica_context()
    context = _global_context(prepare_fn, features, ctx)
    whole = accumulation_steps == 1 and ctx.num_replicas_in_sync == 1
    grads, total, report, slices = _summed_micro_steps(
      micro_step, features, context, accumulation_steps, whole
    )
    grads = optimizer.unscale(ctx.all_reduce(SUM, grads))
    norm = _clipping_norm(grads, slices, ctx, optimizer, clip_norm_of_slices)
    # any non-finite gradient makes the norm non-finite (one scalar test
    # instead of a pass over every gradient); so does a norm that overflows,
    # where clipping would turn every gradient into NaN
    finite = tf.math.is_finite(norm)
    grads = optimization.clip_by_global_norm(grads, clip_norm, norm)
    optimizer.apply_gradients(zip(grads, variables), finite=finite)
    return dict(report, loss=total)

  return step
