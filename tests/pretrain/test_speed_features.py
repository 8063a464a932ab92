"""Gradient accumulation, XLA and mixed precision keep the step's semantics."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import TINY_SPECIAL_IDS
from conftest import tiny_batch
from conftest import tiny_config
from deterministic import argmax_sample
from deterministic import deterministic_mask
from model import bert_config
from model import modeling
from model import optimization
from pretrain import pretrain_helpers
from pretrain import pretraining_model
from pretrain import steps
from training import distribution
from training import loop
from util import flops

NO_DROPOUT = dict(
  tiny_config().model_hparam_overrides,
  hidden_dropout_prob=0.0,
  attention_probs_dropout_prob=0.0,
)


@pytest.fixture(scope="module")
def deterministic():
  patch = pytest.MonkeyPatch()
  patch.setattr(pretrain_helpers, "mask", deterministic_mask)
  patch.setattr(pretrain_helpers, "sample_from_softmax", argmax_sample)
  yield
  patch.undo()


def one_update(accumulation_steps=1, jit_compile=False, **hparams):
  """Loss and weights after one step of a seeded model on a fixed batch."""
  tf.random.set_seed(11)
  config = tiny_config(
    model_hparam_overrides=NO_DROPOUT,
    train_batch_size=6,
    gradient_accumulation_steps=accumulation_steps,
    jit_compile=jit_compile,
    **hparams,
  )
  model = pretraining_model.PretrainingModel(config, TINY_SPECIAL_IDS)
  optimizer = optimization.create_optimizer(
    model.trainable_variables,
    1e-3,
    100,
    weight_decay_rate=0.01,
    dynamic_loss_scale=config.mixed_precision == "mixed_float16",
  )
  if optimizer.loss_scale is not None:
    # small enough not to overflow on the first step, large enough that a
    # missing unscale would show
    optimizer.loss_scale.assign(16.0)
  variables = model.trainable_variables
  captured = [tf.Variable(tf.zeros_like(v)) for v in variables]
  apply = optimizer.apply_gradients

  def capture(grads_and_vars, finite=None):
    grads_and_vars = list(grads_and_vars)
    for slot, (grad, _) in zip(captured, grads_and_vars):
      slot.assign(tf.convert_to_tensor(grad))
    return apply(grads_and_vars, finite=finite)

  optimizer.apply_gradients = capture
  train_steps = loop.make_train_steps(
    tf.distribute.get_strategy(),
    steps.make_pretraining_step(model, optimizer, config),
    optimizer,
    ["loss"],
  )
  features = {k: tf.constant(v) for k, v in tiny_batch(6).items()}
  report = train_steps(iter(tf.data.Dataset.from_tensors(features)), 1)
  grads = {
    modeling.variable_name(v): g.numpy() for v, g in zip(variables, captured)
  }
  return {k: float(v) for k, v in report.items()}, grads, model


def assert_same_update(a, b, rtol):
  """Same loss and same (clipped) gradients: Adam's first step is nearly
  sign(gradient), so the weights alone would hide a wrong gradient scale."""
  (report_a, grads_a, _), (report_b, grads_b, _) = a, b
  assert report_b["loss"] == pytest.approx(report_a["loss"], rel=1e-5)
  for name in grads_a:
    np.testing.assert_allclose(
      grads_b[name], grads_a[name], rtol=rtol, atol=1e-7, err_msg=name
    )


@pytest.mark.slow
@pytest.mark.parametrize(
  "objective",
  [
    {},
    {"electra_objective": False},
    {"electra_objective": False, "electric_objective": True},
  ],
)
def test_accumulated_micro_batches_equal_one_batch(deterministic, objective):
  assert_same_update(
    one_update(1, **objective), one_update(3, **objective), rtol=1e-4
  )


@pytest.mark.slow
def test_xla_step_equals_the_plain_step(deterministic):
  assert_same_update(one_update(), one_update(jit_compile=True), rtol=1e-4)


@pytest.mark.slow
def test_bfloat16_keeps_float32_variables(deterministic):
  report32, grads32, _ = one_update()
  report16, grads16, model = one_update(mixed_precision="mixed_bfloat16")
  assert report16["loss"] == pytest.approx(report32["loss"], rel=0.05)
  assert all(v.dtype == tf.float32 for v in model.variables)
  assert model.electra.compute_dtype == tf.bfloat16
  flat32 = np.concatenate([g.ravel() for g in grads32.values()])
  flat16 = np.concatenate([grads16[n].ravel() for n in grads32])
  assert np.corrcoef(flat32, flat16)[0, 1] > 0.95


@pytest.mark.slow
def test_float16_step_unscales_its_gradients(deterministic):
  report32, grads32, _ = one_update()
  report16, grads16, _ = one_update(mixed_precision="mixed_float16")
  assert report16["loss"] == pytest.approx(report32["loss"], rel=0.05)
  # the loss was multiplied by 16: the applied gradients must not be
  flat32 = np.concatenate([g.ravel() for g in grads32.values()])
  flat16 = np.concatenate([grads16[n].ravel() for n in grads32])
  ratio = np.linalg.norm(flat16) / np.linalg.norm(flat32)
  assert 0.9 < ratio < 1.1
  assert np.corrcoef(flat32, flat16)[0, 1] > 0.95


def test_dynamic_loss_scale_skips_non_finite_steps():
  var = tf.Variable([1.0, 2.0], name="electra/x/kernel")
  opt = optimization.create_optimizer([var], 0.1, 100, dynamic_loss_scale=True)
  assert float(opt.scale_loss(tf.constant(1.0))) == 2.0**15
  bad = [tf.constant([np.inf, 1.0])]
  opt.apply_gradients(zip(bad, [var]), finite=tf.constant(False))
  assert var.numpy().tolist() == [1.0, 2.0]
  assert int(opt.global_step) == 0 and float(opt.loss_scale) == 2.0**14
  assert float(tf.reduce_sum(opt.adam_m["electra/x/kernel"])) == 0.0
  good = [tf.constant([1.0, 1.0])]
  opt.good_steps.assign(1999)
  opt.apply_gradients(zip(good, [var]), finite=tf.constant(True))
  assert int(opt.global_step) == 1 and float(opt.loss_scale) == 2.0**15
  assert var.numpy()[0] < 1.0


@pytest.mark.parametrize(
  "objective",
  [
    {},
    {"electra_objective": False},
    {"electra_objective": False, "electric_objective": True},
  ],
)
def test_loss_denominators_match_the_forward_pass(objective):
  model = pretraining_model.PretrainingModel(
    tiny_config(**objective), TINY_SPECIAL_IDS
  )
  features = {k: tf.constant(v) for k, v in tiny_batch(5).items()}
  outputs = model(features, training=False)
  # the weights the forward pass's losses were summed with
  if outputs.cloze is not None:
    gen_weights = pretrain_helpers.get_candidates_mask(
      features["input_ids"], features["input_mask"], TINY_SPECIAL_IDS
    )
  else:
    gen_weights = outputs.inputs.masked_lm_weights
  expected = {"gen": float(tf.reduce_sum(tf.cast(gen_weights, tf.float32)))}
  if outputs.disc is not None:
    expected["disc"] = float(tf.reduce_sum(features["input_mask"]))
  got = {k: float(v) for k, v in model.loss_denominators(features).items()}
  assert got == expected


def test_accumulation_must_divide_the_batch():
  config = tiny_config(train_batch_size=6, gradient_accumulation_steps=4)
  with pytest.raises(ValueError, match="gradient_accumulation_steps"):
    distribution.check_batch_divisible(config, tf.distribute.get_strategy())


def test_flops_count_equals_the_official_script():
  # the official flops_computation.py gives 1.2937e18 for ELECTRA-Small
  # (generator 64 x 12, batch 128, seq 128, 1M steps, embedding 128)
  disc = bert_config.BertConfig(30522, 256, 12, 4, 1024)
  gen = bert_config.BertConfig(30522, 64, 12, 1, 256)
  total = flops.electra_train_flops(disc, gen, 128, 128, 30522, 128) * 1e6
  assert total == pytest.approx(1.293743798272e18, rel=1e-9)
  executed = flops.electra_executed_flops(disc, gen, 128, 128, 30522, 128)
  assert executed < 1.6 * total / 1e6  # sparse lookups, 3x forward


@pytest.mark.slow
def test_xla_eval_gives_the_same_metrics(deterministic, tmp_path):
  import configure_pretraining
  from conftest import TINY_HPARAMS
  from conftest import make_data_dir
  from pretrain import run as pretrain_run

  data_dir = make_data_dir(tmp_path)
  results = []
  for jit in (False, True):
    tf.random.set_seed(2)
    config = configure_pretraining.PretrainingConfig(
      f"jit{jit}",
      data_dir,
      **dict(
        TINY_HPARAMS,
        do_train=False,
        do_eval=True,
        num_eval_steps=2,
        jit_compile=jit,
      ),
    )
    results.append(pretrain_run.train_or_eval(config))
  for name in results[0]:
    assert results[1][name] == pytest.approx(
      results[0][name], rel=1e-4, abs=1e-6
    ), name


@pytest.mark.slow
@pytest.mark.parametrize("script", ["run_finetuning.py", "run_pretraining.py"])
def test_scripts_import_without_the_cycle_collector(script):
  """Run as a script, the collector is paused while importing and then back
  on with the imported objects frozen; imported, nothing changes."""
  import gc
  import subprocess
  import sys

  root = ROOT
  probe = (
    "import gc, runpy, sys\n"
    "from util import startup\n"
    "def done():\n"
    "  print('collector during imports:', gc.isenabled())\n"
    "  gc.freeze(); gc.enable()\n"
    "  print('frozen:', gc.get_freeze_count() > 0)\n"
    "  raise SystemExit(0)\n"
    "startup.imports_done = done\n"
    f"sys.argv = [{script!r}, '--help']\n"
    f"runpy.run_path({script!r}, run_name='__main__')\n"
  )
  out = subprocess.run(
    [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True
  )
  assert "collector during imports: False" in out.stdout, out.stderr[-2000:]
  assert "frozen: True" in out.stdout
  enabled = gc.isenabled()
  __import__(script[:-3])
  assert gc.isenabled() == enabled
