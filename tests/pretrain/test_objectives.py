"""The three pretraining objectives: variables, forward, losses, learning."""

import math

import numpy as np
import pytest
import tensorflow as tf

import numpy_reference as ref
from conftest import ELECTRA_METRICS
from conftest import TINY_SPECIAL_IDS
from conftest import tiny_batch
from conftest import tiny_config
from model import modeling
from model import optimization
from pretrain import heads
from pretrain import metrics
from pretrain import pretrain_helpers
from pretrain import pretraining_model
from pretrain import steps
from training import loop

OBJECTIVES = {
  "electra": {},
  # the same objective on TensorFlow's plain ops, not the compiled kernels
  "electra_plain_ops": {"fused_kernels": False},
  "masked_lm": {"electra_objective": False},
  "electric": {"electra_objective": False, "electric_objective": True},
}


def build(**overrides):
  return pretraining_model.PretrainingModel(
    tiny_config(**overrides), TINY_SPECIAL_IDS
  )


def constant_batch(**kwargs):
  return {k: tf.constant(v) for k, v in tiny_batch(**kwargs).items()}


@pytest.fixture(scope="module", params=sorted(OBJECTIVES))
def trained(request):
  """Trains each objective 30 steps on one fixed batch (traced once)."""
  tf.random.set_seed(7)
  model = build(**OBJECTIVES[request.param])
  config = model.config
  optimizer = optimization.create_optimizer(
    model.trainable_variables,
    config.learning_rate,
    config.num_train_steps,
    config.weight_decay_rate,
    config.num_warmup_steps,
  )
  strategy = tf.distribute.get_strategy()
  names = list(model.loss_terms_names()) + ["loss"]
  train_steps = loop.make_train_steps(
    strategy,
    steps.make_pretraining_step(model, optimizer, config),
    optimizer,
    names,
  )
  iterator = iter(tf.data.Dataset.from_tensors(constant_batch()).repeat())
  history = [
    {k: float(v) for k, v in train_steps(iterator, tf.constant(1)).items()}
    for _ in range(30)
  ]
  return request.param, model, optimizer, history


@pytest.mark.slow
def test_loss_falls_over_30_steps(trained):
  name, _, _, history = trained
  # the masks are drawn again every step, so single steps are noisy (the
  # masked-LM loss moves by 0.5 from one step to the next): compare the
  # first steps with the average of the last ten
  first = np.mean([h["loss"] for h in history[:3]])
  last = np.mean([h["loss"] for h in history[-10:]])
  assert last < 0.9 * first, (name, first, last)


def test_loss_by_hand():
  """gen_weight 1.5, disc_weight 50: total = 1.5 * gen + 50 * disc, each
  term its sum over (its denominator + 1e-6)."""
  model = build(gen_weight=1.5, disc_weight=50.0)
  gen = heads.SoftmaxOutput(None, None, None, tf.constant(6.0))
  disc = heads.DiscOutput(None, None, None, None, None, tf.constant(3.0))
  outputs = pretraining_model.PretrainingOutputs(
    None, gen, None, disc, None, None
  )
  total, losses = model.loss(outputs, {"gen": 4.0, "disc": 30.0})
  assert float(losses["gen"]) == pytest.approx(6.0 / 4.000001, rel=1e-6)
  assert float(losses["disc"]) == pytest.approx(3.0 / 30.000001, rel=1e-6)
  assert float(total) == pytest.approx(1.5 * 1.5 + 50 * 0.1, rel=1e-5)
  total, losses = model.loss(outputs, {"gen": 12.0, "disc": 60.0})
  assert float(total) == pytest.approx(1.5 * 0.5 + 50 * 0.05, rel=1e-5)
  # a masked LM alone has one term
  masked_lm = build(electra_objective=False)
  alone = pretraining_model.PretrainingOutputs(
    None, gen, None, None, None, None
  )
  total, losses = masked_lm.loss(alone, {"gen": 4.0})
  assert list(losses) == ["gen"]
  assert float(total) == pytest.approx(masked_lm.config.gen_weight * 1.5)


@pytest.mark.slow
def test_training_advances_the_step_and_the_schedule(trained):
  _, model, optimizer, history = trained
  assert int(optimizer.global_step.numpy()) == 30
  assert all(h["skipped"] == 0 for h in history)
  # no warmup, linear decay: step t (0-based) trains at lr * (1 - t / T)
  config = model.config
  for t in (0, 1, 29):
    assert history[t]["learning_rate"] == pytest.approx(
      config.learning_rate * (1 - t / config.num_train_steps), rel=1e-5
    )


def test_variable_sets_of_the_variants():
  def names(**overrides):
    return set(build(**overrides).official_variables())

  default = names()
  assert "generator/encoder/layer_0/attention/self/query/kernel" in default
  assert not any(n.startswith("generator/embeddings/") for n in default)
  untied = names(untied_generator_embeddings=True)
  assert "generator/embeddings/word_embeddings" in untied
  # an untied generator at its own width needs no projection
  assert "generator/embeddings_project/kernel" not in untied
  tied = names(untied_generator=False)
  assert not any(n.startswith("generator/") for n in tied)
  assert "generator_predictions/output_bias" in tied
  bert = names(electra_objective=False)
  assert not any(n.startswith("discriminator_predictions") for n in bert)
  uniform = names(uniform_generator=True)
  assert not any(n.startswith("generator") for n in uniform)


def test_tied_generator_shape_and_variables():
  model = build(untied_generator=False)
  assert model.generator is model.electra
  head = modeling.variables_by_name(model.generator_head)
  assert head["generator_predictions/dense/kernel"].shape == (36, 20)


def test_forward_matches_numpy_reference():
  tf.random.set_seed(9)
  model = build()
  outputs = model(constant_batch(), training=False)
  w = {
    k: v.numpy().astype(np.float64)
    for k, v in model.official_variables().items()
  }
  masked = outputs.inputs
  gen_seq = ref.encoder(
    w,
    "generator",
    1,
    masked.input_ids.numpy(),
    masked.input_mask.numpy(),
    masked.segment_ids.numpy(),
    embed_scope="electra",
  )
  positions = masked.masked_lm_positions.numpy()
  reprs = np.take_along_axis(gen_seq, positions[..., None], 1)
  gen_logits = ref.token_logits(
    w, "generator_predictions", reprs, w["electra/embeddings/word_embeddings"]
  )
  np.testing.assert_allclose(outputs.mlm.logits.numpy(), gen_logits, atol=1e-5)
  fake = outputs.fake_inputs
  disc_seq = ref.encoder(
    w,
    "electra",
    3,
    fake.input_ids.numpy(),
    fake.input_mask.numpy(),
    fake.segment_ids.numpy(),
  )
  np.testing.assert_allclose(
    outputs.disc.logits.numpy(),
    ref.discriminator_logits(w, disc_seq),
    atol=1e-5,
  )


def test_generator_head_computes_only_masked_positions():
  model = build()
  outputs = model(constant_batch(), training=False)
  n = model.config.max_predictions_per_seq
  assert outputs.mlm.logits.shape == (5, n, 97)


def _fake_labels(model, force_original):
  inputs = pretrain_helpers.mask(
    pretrain_helpers.pretrain_data.features_to_inputs(constant_batch()),
    0.3,
    4,
    TINY_SPECIAL_IDS,
  )
  ids = inputs.masked_lm_ids
  target = ids if force_original else (ids + 1) % 97
  logits = 1e4 * tf.one_hot(target, 97)
  fake, labels, sampled = model._fake_data(inputs, logits)
  return inputs, fake, labels.numpy(), sampled.numpy()


def test_sampled_original_token_counts_as_real():
  model = build()
  inputs, fake, labels, _ = _fake_labels(model, force_original=True)
  assert labels.sum() == 0
  orig = pretrain_helpers.unmask(inputs).input_ids.numpy()
  np.testing.assert_array_equal(fake.input_ids.numpy(), orig)


def test_replaced_tokens_are_labelled_fake():
  model = build()
  inputs, fake, labels, _ = _fake_labels(model, force_original=False)
  positions = inputs.masked_lm_positions.numpy()
  weights = inputs.masked_lm_weights.numpy()
  expected = np.zeros_like(labels)
  for row in range(len(labels)):
    expected[row, positions[row][weights[row] > 0]] = 1
  np.testing.assert_array_equal(labels, expected)
  assert (
    (fake.input_ids.numpy() != inputs.input_ids.numpy()) | (expected == 0)
  ).all()


def test_disallow_correct_never_samples_the_original():
  tf.random.set_seed(1)
  model = build(disallow_correct=True)
  outputs = model(constant_batch(), training=False)
  weights = outputs.inputs.masked_lm_weights.numpy() > 0
  sampled = outputs.sampled_ids.numpy()[weights]
  assert (sampled != outputs.inputs.masked_lm_ids.numpy()[weights]).all()


def test_electric_discriminator_adds_log_q():
  tf.random.set_seed(2)
  model = build(**OBJECTIVES["electric"])
  for var in model.discriminator_head.variables:
    var.assign(tf.zeros_like(var))  # raw discriminator logits become 0
  outputs = model(constant_batch(), training=False)
  log_q = tf.nn.log_softmax(outputs.cloze.logits).numpy()
  ids = outputs.fake_inputs.input_ids.numpy()
  expected = np.take_along_axis(log_q, ids[..., None], -1)[..., 0]
  expected += math.log(0.15 / 0.85)
  np.testing.assert_allclose(outputs.disc.logits.numpy(), expected, atol=1e-5)
  assert outputs.cloze.logits.shape == (5, 17, 97)


@pytest.mark.parametrize(
  "objective,expected",
  [
    (
      "electra",
      ELECTRA_METRICS,
    ),
    ("masked_lm", {"masked_lm_accuracy", "masked_lm_loss", "loss"}),
  ],
)
def test_eval_metric_names(objective, expected):
  model = build(**OBJECTIVES[objective])
  accumulator = metrics.MetricsAccumulator()
  right = total = 0.0
  for _ in range(2):
    batch = constant_batch()
    outputs = model(batch, training=False)
    total, _ = model.loss(outputs, model.loss_denominators(batch))
    accumulator.update(metrics.eval_statistics(model, outputs, total))
    weights = outputs.inputs.masked_lm_weights.numpy()
    hits = outputs.mlm.preds.numpy() == outputs.inputs.masked_lm_ids.numpy()
    right += float((weights * hits).sum())
    total += float(weights.sum())
  results = accumulator.result()
  assert set(results) == expected
  # pooled over both batches, weighted by the real predictions
  assert results["masked_lm_accuracy"] == pytest.approx(right / total)


def test_a_position_drawn_twice_gets_the_average_of_its_samples():
  inputs = pretrain_helpers.pretrain_data.features_to_inputs(constant_batch())
  positions = tf.constant([[2, 2, 3, 0]] * 5)
  inputs = pretrain_helpers.pretrain_data.get_updated_inputs(
    inputs,
    masked_lm_positions=positions,
    masked_lm_ids=pretrain_helpers.gather_positions(
      inputs.input_ids, positions
    ),
    masked_lm_weights=tf.constant([[1.0, 1.0, 1.0, 0.0]] * 5),
  )
  logits = 1e4 * tf.one_hot([[10, 21, 30, 0]] * 5, 97)  # forced draws
  original = inputs.input_ids.numpy()
  for average, at_2 in ((False, 10), (True, 15)):  # (10 + 21) // 2 = 15
    model = build(average_duplicate_samples=average)
    fake, labels, _ = model._fake_data(inputs, logits)
    ids = fake.input_ids.numpy()
    assert (ids[:, 2] == at_2).all() and (ids[:, 3] == 30).all()
    np.testing.assert_array_equal(ids[:, 4:], original[:, 4:])
    np.testing.assert_array_equal(
      labels.numpy()[:, 2], ids[:, 2] != original[:, 2]
    )


def test_generator_loss_and_gradient_by_hand():
  # odd sizes [2, 3, 5]; loss = -log softmax at the target, weighted; its
  # gradient is weight * (softmax - one_hot) / the sum of the weights
  rng = np.random.default_rng(0)
  logits = tf.constant(rng.normal(size=[2, 3, 5]) * 3, tf.float32)
  targets = tf.constant([[0, 4, 2], [1, 1, 3]])
  weights = tf.constant([[1.0, 1.0, 0.0], [1.0, 0.5, 1.0]])
  with tf.GradientTape() as tape:
    tape.watch(logits)
    out = heads.generator_loss(logits, targets, weights)
    loss = out.loss_sum / tf.reduce_sum(weights)
  probs = ref.softmax(logits.numpy().astype(np.float64))
  one_hot = np.eye(5)[targets.numpy()]
  expected = -np.log((probs * one_hot).sum(-1))
  np.testing.assert_allclose(out.per_example_loss, expected, rtol=1e-5)
  grad = weights.numpy()[..., None] * (probs - one_hot) / 4.5
  np.testing.assert_allclose(tape.gradient(loss, logits), grad, atol=1e-6)
