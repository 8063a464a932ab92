"""The pretraining train and eval steps, built on the shared step builder."""

import tensorflow as tf

from pretrain import metrics
from training import step as step_lib

SUM = tf.distribute.ReduceOp.SUM


def make_pretraining_step(model, optimizer, config):
  """The pretraining replica step: the global batch's loss denominators
  first (from the inputs alone), then the accumulated, clipped update of
  `PretrainingModel.loss`."""

  def loss_fn(features, denominators):
    return model.loss(model(features, training=True), denominators)

  return step_lib.make_replica_step(
    loss_fn,
    model.trainable_variables,
    optimizer,
    prepare_fn=model.loss_denominators,
    accumulation_steps=config.gradient_accumulation_steps,
    jit_compile=config.jit_compile,
    official_norm=config.official_step_quirks,
  )


def make_eval_step(model, strategy, jit_compile=False):
  """A `tf.function` returning summed metric statistics of one batch."""

  def batch_statistics(features, denominators):
    outputs = model(features, training=False)
    return metrics.eval_statistics(
      model, outputs, model.loss(outputs, denominators)[0]
    )

  if jit_compile:
    batch_statistics = tf.function(
      batch_statistics, jit_compile=True, autograph=False
    )

  @tf.autograph.experimental.do_not_convert
  def replica_eval(features):
    # global-batch denominators first (from the inputs), so the forward pass
    # can be compiled with XLA away from the cross-replica sums; every sum
    # happens here, in one order on every replica
    ctx = tf.distribute.get_replica_context()
    local = model.loss_denominators(features)
    sums = ctx.all_reduce(SUM, list(local.values()))
    stats = batch_statistics(features, dict(zip(local, sums)))
    return ctx.all_reduce(SUM, stats)

  @tf.function(autograph=False)
  def eval_step(iterator):
    stats = strategy.run(replica_eval, args=(next(iterator),))
    return {
      k: strategy.experimental_local_results(v)[0] for k, v in stats.items()
    }

  return eval_step
