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
    grads = tape.gradient(total, variables)
    grads = tf.distribute.get_replica_context().all_reduce(SUM, grads)
    grads = optimization.clip_by_global_norm(grads, 1.0)
    optimizer.apply_gradients(zip(grads, variables))
    return dict(report, loss=total)

  return step


def train_step_fn(model, optimizer):
  """The pretraining replica step of a `PretrainingModel`."""
  def loss_fn(features):
    total, losses, _ = replica_loss(model, features, training=True)
    return total, losses
  return make_replica_step(loss_fn, model.trainable_variables, optimizer)


def make_train_loop(strategy, replica_step, optimizer, names):
  """A `tf.function` running ``n`` steps on a distributed iterator.

  The step is traced once, inside the loop; the loop returns the last step's
  global values of ``names`` and the learning rate of that step.
  """
  @tf.function
  def train_steps(iterator, n):
    report = {name: tf.constant(0.0) for name in names}
    learning_rate = tf.constant(0.0)
    for _ in tf.range(n):
      learning_rate = optimizer.learning_rate()
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      report = {k: strategy.reduce(SUM, per_replica[k], axis=None)
                for k in names}
    return dict(report, learning_rate=learning_rate)

  return train_steps


def make_train_step(model, optimizer, strategy=None):
  """A `tf.function` running one distributed pretraining step.

  Returns:
    A function features -> {"loss", "gen", "disc" (ELECTRA/Electric),
    "learning_rate"} of global scalars.
  """
  strategy = strategy or tf.distribute.get_strategy()
  replica_step = train_step_fn(model, optimizer)

  @tf.function(autograph=False)
  def run(features):
    learning_rate = optimizer.learning_rate()
    per_replica = strategy.run(replica_step, args=(features,))
    report = {k: strategy.reduce(SUM, v, axis=None)
              for k, v in per_replica.items()}
    report["learning_rate"] = learning_rate
    return report

  return run
