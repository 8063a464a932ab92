"""MirroredStrategy over two logical CPUs equals one device on the same batch.

Masking and sampling are random per replica, so this test swaps them for
deterministic stand-ins: it checks the distribution math (global-batch loss
normalisation, cross-replica gradient sum, one update on every replica).
"""

import numpy as np
import pytest
import tensorflow as tf
from helpers import mirrored

from conftest import TINY_SPECIAL_IDS
from conftest import tiny_batch
from conftest import tiny_config
from deterministic import argmax_sample
from deterministic import deterministic_mask
from model import optimization
from pretrain import pretrain_helpers
from pretrain import pretraining_model
from pretrain import steps
from training import distribution
from training import loop

GLOBAL_BATCH = 6


def one_step(strategy, features):
  """Builds a seeded model under ``strategy``; returns loss, grads, weights."""
  tf.random.set_seed(5)
  config = tiny_config(
    model_hparam_overrides=dict(
      tiny_config().model_hparam_overrides,
      hidden_dropout_prob=0.0,
      attention_probs_dropout_prob=0.0,
    ),
    train_batch_size=GLOBAL_BATCH,
  )
  with strategy.scope():
    model = pretraining_model.PretrainingModel(config, TINY_SPECIAL_IDS)
    optimizer = optimization.create_optimizer(
      model.trainable_variables, 1e-3, 100, weight_decay_rate=0.01
    )
  variables = model.trainable_variables

  def loss_fn(batch, denominators):
    return model.loss(model(batch, training=True), denominators)

  def replica_grads(batch):
    ctx = tf.distribute.get_replica_context()
    local = model.loss_denominators(batch)
    denominators = dict(
      zip(
        local, ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(local.values()))
      )
    )
    with tf.GradientTape() as tape:
      total, _ = loss_fn(batch, denominators)
    grads = tape.gradient(total, variables)
    return total, ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)

  dataset = (
    tf.data.Dataset.from_tensors(features)
    .unbatch()
    .batch(GLOBAL_BATCH)
    .repeat()
  )
  iterator = iter(distribution.distribute_dataset(strategy, dataset))
  loss, grads = strategy.run(replica_grads, args=(next(iterator),))
  loss = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
  grads = [strategy.experimental_local_results(g)[0] for g in grads]
  # the production path: the shared step builder inside the shared loop
  train_steps = loop.make_train_steps(
    strategy,
    steps.make_pretraining_step(model, optimizer, config),
    optimizer,
    ["loss"],
  )
  report = train_steps(iterator, tf.constant(1))
  assert float(report["loss"]) == pytest.approx(float(loss), abs=1e-5)
  assert int(optimizer.global_step.numpy()) == 1
  names = [v.name for v in variables]
  weights = {n: v.numpy() for n, v in zip(names, variables)}
  grads = [tf.convert_to_tensor(g).numpy() for g in grads]
  return float(loss), dict(zip(names, grads)), weights


def one_device_and_mirrored(fn):
  """``fn(strategy, batch)`` on one device and on two mirrored CPUs, with
  deterministic masking and sampling."""
  patch = pytest.MonkeyPatch()
  patch.setattr(pretrain_helpers, "mask", deterministic_mask)
  patch.setattr(pretrain_helpers, "sample_from_softmax", argmax_sample)
  features = {k: tf.constant(v) for k, v in tiny_batch(GLOBAL_BATCH).items()}
  try:
    single = fn(tf.distribute.OneDeviceStrategy("/cpu:0"), features)
    mirrored_strategy = mirrored()
    assert mirrored_strategy.num_replicas_in_sync == 2
    return single, fn(mirrored_strategy, features)
  finally:
    patch.undo()


@pytest.fixture(scope="module")
def runs():
  return one_device_and_mirrored(one_step)


@pytest.mark.slow
def test_first_step_loss_equal(runs):
  (loss_one, _, _), (loss_two, _, _) = runs
  assert loss_two == pytest.approx(loss_one, abs=1e-5)


@pytest.mark.slow
def test_gradients_equal(runs):
  (_, grads_one, _), (_, grads_two, _) = runs
  assert grads_one.keys() == grads_two.keys()
  for name in grads_one:
    np.testing.assert_allclose(
      grads_two[name], grads_one[name], atol=1e-5, err_msg=name
    )


@pytest.mark.slow
def test_updated_weights_equal(runs):
  (_, _, weights_one), (_, _, weights_two) = runs
  for name in weights_one:
    np.testing.assert_allclose(
      weights_two[name], weights_one[name], atol=1e-6, err_msg=name
    )


def test_batch_must_split_over_replicas():
  strategy = mirrored()
  config = tiny_config(train_batch_size=5)
  with pytest.raises(
    ValueError,
    match="'train_batch_size' \\(5\\) is not divisible by the 2 replicas",
  ):
    distribution.check_batch_divisible(config, strategy)


def test_auto_strategy_on_cpu_is_one_device():
  assert distribution.resolve_strategy_name(tiny_config()) == "one_device"
  assert (
    distribution.resolve_strategy_name(tiny_config(tpu_name="my-tpu")) == "tpu"
  )
  assert (
    distribution.resolve_strategy_name(
      tiny_config(distribution_strategy="mirrored")
    )
    == "mirrored"
  )


def test_one_cpu_reads_the_dataset_itself():
  dataset = tf.data.Dataset.range(6).batch(2)
  one_cpu = tf.distribute.OneDeviceStrategy("/cpu:0")
  assert distribution.distribute_dataset(one_cpu, dataset) is dataset
  two_cpus = distribution.distribute_dataset(mirrored(), dataset)
  assert isinstance(two_cpus, tf.distribute.DistributedDataset)
  pipelines = distribution.distribute_datasets_from_function(
    one_cpu, lambda context: dataset.take(context.num_input_pipelines)
  )
  assert [b.tolist() for b in pipelines.as_numpy_iterator()] == [[0, 1]]


def evaluate_once(strategy, features):
  """Eval metrics of one global batch under ``strategy`` (seeded model)."""
  from pretrain import metrics

  tf.random.set_seed(5)
  with strategy.scope():
    model = pretraining_model.PretrainingModel(
      tiny_config(eval_batch_size=GLOBAL_BATCH), TINY_SPECIAL_IDS
    )

  dataset = tf.data.Dataset.from_tensors(features).unbatch().batch(GLOBAL_BATCH)
  iterator = iter(distribution.distribute_dataset(strategy, dataset))
  stats = steps.make_eval_step(model, strategy)(iterator)
  accumulator = metrics.MetricsAccumulator()
  accumulator.update({k: v.numpy() for k, v in stats.items()})
  return accumulator.result()


@pytest.mark.slow
def test_eval_metrics_equal_across_replica_counts():
  one, two = one_device_and_mirrored(evaluate_once)
  assert one.keys() == two.keys()
  for name in one:
    assert two[name] == pytest.approx(one[name], rel=1e-5, abs=1e-6), name
