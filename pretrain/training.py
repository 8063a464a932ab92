"""The training step: forward, loss, clipped official update, any strategy.

One code path serves every `tf.distribute` strategy (the default strategy
included). Pretraining divides each replica's loss numerators by the
denominators summed over all replicas, and the gradients are summed across
replicas, so a step on R replicas equals a step on one device with the same
global batch.
"""

import tensorflow as tf

from model import optimization

SUM = tf.distribute.ReduceOp.SUM


def replica_loss(model, features, training):
  """Pretraining forward pass with global-batch denominators.

  Returns:
    (total_loss, {term name: this replica's share of the term's loss},
    outputs).
  """
  outputs = model(features, training=training)
  ctx = tf.distribute.get_replica_context()
  terms = model.loss_terms(outputs)
  local = [den for _, _, den in terms.values()]
  global_dens = ctx.all_reduce(SUM, local) if ctx is not None else local
  denominators = dict(zip(terms, global_dens))
  losses = {name: num / (denominators[name] + 1e-6)
            for name, (_, num, _) in terms.items()}
  total = model.total_loss(outputs, denominators)
  return total, losses, outputs


def make_replica_step(loss_fn, variables, optimizer):
  """A replica function: one optimizer step on ``features``.

  Args:
    loss_fn: features -> (this replica's share of the loss, {name: scalar}).
    variables: the trainable variables.
    optimizer: an `AdamWeightDecay`.

  Returns:
    A function features -> {"loss", and the report of ``loss_fn``}, each
    this replica's share (sum over replicas for the global value).
  """
  # the models are plain Python control flow over static shapes: skipping
  # AutoGraph's conversion halves the tracing time
  @tf.autograph.experimental.do_not_convert
  def step(features):
    with tf.GradientTape() as tape:
      total, report = loss_fn(features)
    grads = dense(tape.gradient(total, variables))
    grads = tf.distribute.get_replica_context().all_reduce(SUM, grads)
    finite = optimization.all_finite(grads)
    grads = optimization.clip_by_global_norm(grads, 1.0)
    optimizer.apply_gradients(zip(grads, variables), finite=finite)
    return dict(report, loss=total)

  return step


def _split(features, parts):
  """k micro-batches of a batch dict (the batch must divide by k)."""
  pieces = {name: tf.split(value, parts) for name, value in features.items()}
  return [{name: pieces[name][i] for name in features} for i in range(parts)]


def dense(grads):
  """Gradients as dense tensors.

  Embedding gradients arrive as IndexedSlices with repeated rows; the norm of
  their values is not the norm of the gradient, which would make global-norm
  clipping depend on how the batch is split. (The official code on GPU had
  this artefact; on TPU, with one-hot lookups, it did not.)
  """
  return [None if g is None else tf.convert_to_tensor(g) for g in grads]


def _add(total, grads):
  if total is None:
    return dense(grads)
  return [t + g for t, g in zip(total, dense(grads))]


def train_step_fn(model, optimizer, accumulation_steps=1, jit_compile=False):
  """The pretraining replica step of a `PretrainingModel`.

  The loss denominators of the global batch come first, from the inputs
  alone (`loss_denominators`), so the batch can be processed as
  ``accumulation_steps`` micro-batches whose gradients add up to the
  gradient of the whole batch, and the forward/backward pass can be
  compiled with XLA away from the cross-replica sums.
  """
  variables = model.trainable_variables

  def micro_step(features, denominators):
    with tf.GradientTape() as tape:
      outputs = model(features, training=True)
      total = model.total_loss(outputs, denominators)
      scaled = optimizer.scale_loss(total)
    grads = tape.gradient(scaled, variables)
    losses = {name: num / (denominators[name] + 1e-6)
              for name, (_, num, _) in model.loss_terms(outputs).items()}
    return grads, total, losses

  if jit_compile:
    micro_step = tf.function(micro_step, jit_compile=True, autograph=False)

  @tf.autograph.experimental.do_not_convert
  def step(features):
    ctx = tf.distribute.get_replica_context()
    local = model.loss_denominators(features)
    denominators = dict(zip(local, ctx.all_reduce(SUM, list(local.values()))))
    grads, total, losses = None, 0.0, {}
    for micro in _split(features, accumulation_steps):
      micro_grads, micro_total, micro_losses = micro_step(micro, denominators)
      grads = _add(grads, micro_grads)
      total += micro_total
      losses = {k: losses.get(k, 0.0) + v for k, v in micro_losses.items()}
    grads = optimizer.unscale(ctx.all_reduce(SUM, grads))
    finite = optimization.all_finite(grads)
    grads = optimization.clip_by_global_norm(grads, 1.0)
    optimizer.apply_gradients(zip(grads, variables), finite=finite)
    return dict(losses, loss=total)

  return step


def make_train_loop(strategy, replica_step, optimizer, names):
  """A `tf.function` running ``n`` steps on a distributed iterator.

  The step is traced once, inside the loop. Returns the last step's global
  values of ``names``, its learning rate, the number of steps whose values
  or update were not finite (``skipped``) and the values at the first such
  step (``bad_<name>``, and ``bad_index``, its 0-based position).
  """
  @tf.function
  def train_steps(iterator, n):
    report = {name: tf.constant(0.0) for name in names}
    bad = {name: tf.constant(0.0) for name in names}
    learning_rate = tf.constant(0.0)
    skipped = tf.constant(0)
    bad_index = tf.constant(-1)
    for i in tf.range(n):
      learning_rate = optimizer.learning_rate()
      before = optimizer.global_step.read_value()
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      report = {k: strategy.reduce(SUM, per_replica[k], axis=None)
                for k in names}
      finite = tf.logical_and(
          tf.reduce_all([tf.math.is_finite(v) for v in report.values()]),
          optimizer.global_step > before)
      first = tf.logical_and(tf.logical_not(finite), bad_index < 0)
      bad = {k: tf.where(first, report[k], bad[k]) for k in names}
      bad_index = tf.where(first, i, bad_index)
      skipped += tf.cast(tf.logical_not(finite), tf.int32)
    return dict(report, learning_rate=learning_rate, skipped=skipped,
                bad_index=bad_index, **{f"bad_{k}": v for k, v in bad.items()})

  return train_steps


def make_train_step(model, optimizer, strategy=None, accumulation_steps=1,
                    jit_compile=False):
  """A `tf.function` running one distributed pretraining step.

  Returns:
    A function features -> {"loss", "gen", "disc" (ELECTRA/Electric),
    "learning_rate"} of global scalars.
  """
  strategy = strategy or tf.distribute.get_strategy()
  replica_step = train_step_fn(model, optimizer, accumulation_steps,
                               jit_compile)

  @tf.function(autograph=False)
  def run(features):
    learning_rate = optimizer.learning_rate()
    per_replica = strategy.run(replica_step, args=(features,))
    report = {k: strategy.reduce(SUM, v, axis=None)
              for k, v in per_replica.items()}
    report["learning_rate"] = learning_rate
    return report

  return run
