"""The official optimizer semantics against a numpy reference."""

import numpy as np
import pytest
import tensorflow as tf

from model import optimization


def numpy_adamw_step(param, grad, m, v, lr, decay, use_decay):
  """One official AdamWeightDecay update (no bias correction)."""
  m = 0.9 * m + 0.1 * grad
  v = 0.999 * v + 0.001 * grad**2
  update = m / (np.sqrt(v) + 1e-6)
  if use_decay:
    update = update + decay * param
  return param - lr * update, m, v


def make_vars():
  rng = np.random.default_rng(0)
  values = {
    "electra/encoder/layer_0/output/dense/kernel": rng.normal(size=(3, 5)),
    "electra/encoder/layer_0/output/dense/bias": rng.normal(size=5),
    "electra/embeddings/LayerNorm/gamma": rng.normal(size=4),
  }
  variables = [
    tf.Variable(v.astype(np.float32), name=k) for k, v in values.items()
  ]
  return values, variables


def test_two_updates_match_numpy_reference():
  values, variables = make_vars()
  opt = optimization.create_optimizer(
    variables,
    learning_rate=0.1,
    num_train_steps=10,
    weight_decay_rate=0.01,
    warmup_steps=4,
  )
  rng = np.random.default_rng(1)
  state = {
    k: (v.copy(), np.zeros_like(v), np.zeros_like(v)) for k, v in values.items()
  }
  for step in range(2):
    grads = {k: rng.normal(size=v.shape) for k, v in values.items()}
    lr = 0.1 * (1 - step / 10) * min(1.0, step / 4)
    if step == 0:
      assert float(opt.learning_rate()) == 0.0
    opt.apply_gradients(
      [(tf.constant(grads[v.name[:-2]], tf.float32), v) for v in variables]
    )
    for name in state:
      param, m, v = state[name]
      state[name] = numpy_adamw_step(
        param,
        grads[name],
        m,
        v,
        lr,
        0.01,
        "LayerNorm" not in name and "bias" not in name,
      )
  for var in variables:
    np.testing.assert_allclose(var.numpy(), state[var.name[:-2]][0], atol=1e-6)
  assert int(opt.global_step) == 2


def test_first_update_with_warmup_done_matches_reference():
  values, variables = make_vars()
  opt = optimization.create_optimizer(
    variables, 0.05, 100, weight_decay_rate=0.5
  )
  grads = {k: np.full(v.shape, 0.3) for k, v in values.items()}
  opt.apply_gradients(
    [(tf.constant(grads[v.name[:-2]], tf.float32), v) for v in variables]
  )
  for var in variables:
    name = var.name[:-2]
    expected, _, _ = numpy_adamw_step(
      values[name], grads[name], 0, 0, 0.05, 0.5, name.endswith("kernel")
    )
    np.testing.assert_allclose(var.numpy(), expected, atol=1e-6)


def test_weight_decay_exclusions():
  opt = optimization.AdamWeightDecay(lambda s: 1.0, weight_decay_rate=0.01)
  assert opt.use_weight_decay("electra/encoder/layer_0/output/dense/kernel")
  assert not opt.use_weight_decay("electra/embeddings/LayerNorm/gamma")
  assert not opt.use_weight_decay("generator_predictions/output_bias")
  assert not opt.use_weight_decay("task_specific/x/layer_norm/beta")
  assert not optimization.AdamWeightDecay(lambda s: 1.0).use_weight_decay(
    "a/kernel"
  )


def test_learning_rate_schedule():
  lr = [
    float(optimization.learning_rate_at(s, 1.0, 10, warmup_steps=2))
    for s in (0, 1, 2, 5, 10, 12)
  ]
  np.testing.assert_allclose(lr, [0.0, 0.45, 0.8, 0.5, 0.0, 0.0], atol=1e-7)
  quad = float(optimization.learning_rate_at(5, 1.0, 10, lr_decay_power=2.0))
  assert quad == pytest.approx(0.25)
  # warmup_proportion wins when larger than warmup_steps
  assert float(
    optimization.learning_rate_at(
      1, 1.0, 10, warmup_steps=1, warmup_proportion=0.5
    )
  ) == pytest.approx(0.9 / 5)
  # no warmup: finite at step 0 (the official code gives NaN there)
  assert float(optimization.learning_rate_at(0, 1.0, 10)) == 1.0


def test_layerwise_multipliers_for_four_layers():
  multipliers = optimization.layerwise_lr_multipliers(0.8, 4, "task_specific/")
  by_depth = (
    [multipliers["/embeddings/"]]
    + [multipliers[f"encoder/layer_{i}/"] for i in range(4)]
    + [multipliers["task_specific/"]]
  )
  np.testing.assert_allclose(
    by_depth, [0.262, 0.328, 0.41, 0.512, 0.64, 1.0], atol=1e-3
  )
  assert multipliers["/embeddings_project/"] == multipliers["/embeddings/"]
  assert optimization.multiplier_for(
    "electra/encoder/layer_1/output/dense/kernel", multipliers
  ) == (pytest.approx(0.8**4))
  with pytest.raises(ValueError, match="generator_predictions"):
    optimization.multiplier_for(
      "generator_predictions/output_bias", multipliers
    )


def test_layerwise_decay_scales_each_update():
  names = [
    "electra/embeddings/word_embeddings",
    "electra/encoder/layer_1/attention/self/query/kernel",
    "task_specific/afqmc/output/kernel",
  ]
  variables = [tf.Variable(np.zeros(3, np.float32), name=n) for n in names]
  opt = optimization.create_optimizer(
    variables,
    1.0,
    1000,
    layerwise_lr_decay_power=0.5,
    n_transformer_layers=2,
    head_scope="task_specific/",
  )
  opt.apply_gradients([(tf.ones(3), v) for v in variables])
  # first Adam step: update = 0.1 / (sqrt(0.001) + 1e-6) per unit gradient
  unit = 0.1 / (np.sqrt(0.001) + 1e-6)
  steps = [-v.numpy()[0] / unit for v in variables]
  np.testing.assert_allclose(steps, [0.5**4, 0.5**2, 1.0], rtol=1e-5)


def test_slots_have_official_names_and_survive_a_checkpoint(tmp_path):
  _, variables = make_vars()
  opt = optimization.create_optimizer(variables, 0.1, 10)
  opt.apply_gradients([(tf.ones_like(v), v) for v in variables])
  slot_names = sorted(v.name for v in opt.adam_m.values())
  assert slot_names[0] == "electra/embeddings/LayerNorm/gamma/adam_m:0"
  ckpt = tf.train.Checkpoint(optimizer=opt, variables=variables)
  path = ckpt.save(str(tmp_path / "ckpt"))
  saved_m = {k: v.numpy() for k, v in opt.adam_m.items()}

  _, fresh_vars = make_vars()
  fresh = optimization.create_optimizer(fresh_vars, 0.1, 10)
  tf.train.Checkpoint(optimizer=fresh, variables=fresh_vars).restore(
    path
  ).assert_consumed()
  assert int(fresh.global_step) == 1
  for name, value in saved_m.items():
    np.testing.assert_array_equal(fresh.adam_m[name].numpy(), value)


def test_official_step_quirk_reads_the_learning_rate_one_step_ahead():
  _, variables = make_vars()
  ours = optimization.create_optimizer(variables, 1.0, 10, warmup_steps=2)
  official = optimization.create_optimizer(
    variables, 1.0, 10, warmup_steps=2, lr_step_offset=1
  )
  # at step 0: lr(0) = 0, so our first update is a no-op; official: lr(1)
  assert float(ours.learning_rate()) == 0.0
  assert float(official.learning_rate()) == pytest.approx(0.45)


def _embedding_run(sparse, steps=3):
  """A word-embedding table [7, 5] updated from IndexedSlices with repeated
  rows, given to the optimizer as they are or densified."""
  name = "electra/embeddings/word_embeddings"
  init = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
  var = tf.Variable(init, name=name)
  opt = optimization.create_optimizer([var], 0.1, 10, weight_decay_rate=0.01)
  rng = np.random.default_rng(1)
  for _ in range(steps):
    values = tf.constant(rng.normal(size=(6, 5)).astype(np.float32))
    grad = tf.IndexedSlices(values, tf.constant([3, 1, 3, 6, 3, 1]), [7, 5])
    opt.apply_gradients([(grad if sparse else tf.convert_to_tensor(grad), var)])
  return [var.numpy(), opt.adam_m[name].numpy(), opt.adam_v[name].numpy()]


def test_sparse_gradient_updates_rows_as_the_dense_update_bit_for_bit():
  sparse, dense = _embedding_run(True), _embedding_run(False)
  for ours, reference in zip(sparse, dense):
    assert np.array_equal(ours, reference)
  # untouched rows (0, 2, 4, 5) moved too: the official update is dense
  assert not np.array_equal(sparse[0][0], _embedding_run(True, steps=0)[0][0])


def test_summed_rows_sums_repeats_in_order():
  grad = tf.IndexedSlices(
    tf.constant([[1.0], [2.0], [4.0], [8.0]]), tf.constant([5, 2, 5, 5]), [6, 1]
  )
  rows = optimization.summed_rows(grad)
  assert rows.indices.numpy().tolist() == [5, 2]
  assert rows.values.numpy().ravel().tolist() == [13.0, 2.0]


def _traced_updates(grads, steps=3):
  """Weights and moments after ``steps`` traced updates by each gradient
  of ``grads`` (a weight "probe/kernel" [7, 5] under weight decay)."""
  init = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
  var = tf.Variable(init, name="probe/kernel")
  opt = optimization.create_optimizer([var], 0.1, 10, weight_decay_rate=0.01)
  update = tf.function(lambda g: opt.apply_gradients([(g, var)]))
  for grad in grads[:steps]:
    update(grad)
  name = "probe/kernel"
  return [var.numpy(), opt.adam_m[name].numpy(), opt.adam_v[name].numpy()]


def test_compiled_update_equals_the_plain_ops_and_keeps_rows_bit_exact():
  rng = np.random.default_rng(1)
  slices = [
    tf.IndexedSlices(
      tf.constant(rng.normal(size=(4, 5)).astype(np.float32)),
      tf.constant([3, 1, 3, 6]),
      tf.constant([7, 5]),
    )
    for _ in range(3)
  ]
  dense = [tf.convert_to_tensor(s) for s in slices]
  compiled = _traced_updates(dense)
  # rows scattered into the compiled update: the dense result, bit for bit
  for a, b in zip(_traced_updates(slices), compiled):
    assert np.array_equal(a, b)
  # eagerly the plain ops run; they agree up to float rounding
  init = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
  var = tf.Variable(init, name="probe/kernel")
  opt = optimization.create_optimizer([var], 0.1, 10, weight_decay_rate=0.01)
  for grad in dense:
    opt.apply_gradients([(grad, var)])
  np.testing.assert_allclose(var.numpy(), compiled[0], rtol=1e-6, atol=1e-7)
  assert not np.array_equal(var.numpy(), init)
