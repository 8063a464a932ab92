"""How a step's raw gradients become the ones it clips and applies.

A gradient path is the step's one seam for this choice. The step calls
``path.collect(raw)`` on each micro-batch's gradients from the tape, sums
what it returns over the micro-batches, and calls ``path.finish(...)`` for
the gradients to apply and their clipping norm. `choose` picks the path:

- `DensePath`: every gradient dense; summed over micro-batches and
  replicas, clipped by its global norm. Embedding gradients arrive as
  IndexedSlices with repeated rows; the norm of their values is not the
  norm of the gradient, which would make clipping depend on how the batch
  is split.
- `RowsPath`: on one replica with the whole batch in one uncompiled pass,
  an embedding's IndexedSlices keeps its rows (each summed once), which the
  optimizer adds into its moments bit for bit as the dense update would,
  without densifying the table and passing over it four times.
- either, with ``official_norm``: the clipping norm of the official TF1
  code on GPU/CPU, which squares an embedding gradient's IndexedSlices
  values (a repeated row counts once per occurrence).
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


class DensePath:
  """Dense gradients, clipped by their global norm (or ``official_norm``)."""

  def __init__(self, official_norm=False):
    self.official_norm = official_norm

  def summable(self, raw):
    """The gradients of one micro-batch in the form the step sums."""
    return dense(raw)

  def collect(self, raw):
    """(gradients, slice norms or Nones) of a micro-batch's tape gradients,
    still scaled by the loss scale."""
    slices = slice_norms(raw) if self.official_norm else [None] * len(raw)
    return self.summable(raw), slices

  def finish(self, grads, slices, ctx, optimizer):
    """(gradients to apply, clipping norm) from this replica's sums over
    the micro-batches: summed over the replicas and unscaled."""
    grads = optimizer.unscale(ctx.all_reduce(SUM, grads))
    if self.official_norm:
      return grads, norm_of_slices(grads, slices, ctx, optimizer)
    return grads, tf.linalg.global_norm(grads)


class RowsPath(DensePath):
  """Sparse gradients keep their rows (one replica, one uncompiled pass)."""

  def summable(self, raw):
    return with_rows_summed(raw)


def choose(whole_batch_in_one_pass, jit_compile, official_norm=False):
  """The path of a step: rows where the whole batch is one uncompiled pass
  on one replica (nothing to sum them with), dense otherwise."""
  if whole_batch_in_one_pass and not jit_compile:
    return RowsPath(official_norm)
  return DensePath(official_norm)
