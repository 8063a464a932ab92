"""The pretraining step: forward, global-batch loss, clipped official update.

One code path serves every `tf.distribute` strategy (the default strategy
included). Each replica divides its loss numerators by the denominators summed
over all replicas, and the gradients are summed across replicas, so a step on
R replicas equals a step on one device with the same global batch.
"""

import tensorflow as tf

from model import optimization

SUM = tf.distribute.ReduceOp.SUM


def replica_loss(model, features, training):
  """Forward pass on this replica's batch with global-batch denominators.

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


def train_step_fn(model, optimizer):
  """A replica function: one optimizer step on ``features``.

  Returns a dict of this replica's shares of the losses (sum over replicas
  for the global values).
  """
  variables = model.trainable_variables

  # the model is plain Python control flow over static shapes: skipping
  # AutoGraph's conversion halves the tracing time
  @tf.autograph.experimental.do_not_convert
  def step(features):
    with tf.GradientTape() as tape:
      total, losses, _ = replica_loss(model, features, training=True)
    grads = tape.gradient(total, variables)
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(SUM, grads)
    grads = optimization.clip_by_global_norm(grads, 1.0)
    optimizer.apply_gradients(zip(grads, variables))
    return dict(losses, loss=total)

  return step


def make_train_step(model, optimizer, strategy=None):
  """A `tf.function` running one distributed step.

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
