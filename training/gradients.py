"""Pure helpers of the step's update: the form gradients are summed in,
and the clipping norms.

Embedding gradients arrive from the tape as IndexedSlices with repeated
rows. The step makes them dense (`dense`) before summing micro-batches and
replicas, except where the whole batch is one uncompiled pass on one
replica (`keeps_embedding_rows`): there each row is summed once
(`with_rows_summed`) and the optimizer takes the rows. The clipping norm
is the global norm of the summed gradients, or with ``official_norm`` the
official TF1 code's on GPU/CPU (`norm_of_slices`), which squares an
embedding gradient's IndexedSlices values (a repeated row counts once per
occurrence), so it depends on how the batch is split.
"""

import tensorflow as tf

from model import optimization

SUM = tf.distribute.ReduceOp.SUM


def dense(grads):
  """Gradients as dense tensors (None stays None)."""
  return [None if g is None else tf.convert_to_tensor(g) for g in grads]


def with_rows_summed(grads):
  """Gradients with each IndexedSlices' repeated rows summed (see
  `optimization.summed_rows`); dense ones unchanged."""
  return [
    optimization.summed_rows(g) if isinstance(g, tf.IndexedSlices) else g
    for g in grads
  ]


def slice_norms(grads):
  """Squared norm of each IndexedSlices gradient's values (a row repeated in
  the slices counts once per occurrence); None for dense gradients."""
  return [
    tf.reduce_sum(tf.square(g.values))
    if isinstance(g, tf.IndexedSlices)
    else None
    for g in grads
  ]


def norm_of_slices(grads, slices, ctx, optimizer):
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


def keeps_embedding_rows(accumulation_steps, num_replicas, jit_compile):
  """Whether a step applies an embedding's gradient as its rows: with the
  whole batch in one uncompiled pass on one replica there is nothing to
  sum them with, and the optimizer adds the rows into its moments bit for
  bit as the dense update would, without densifying the table."""
  return accumulation_steps == 1 and num_replicas == 1 and not jit_compile


def summable(raw, keep_rows):
  """A micro-batch's tape gradients in the form the step sums: dense, or
  with ``keep_rows`` each IndexedSlices' repeated rows summed."""
  return with_rows_summed(raw) if keep_rows else dense(raw)
