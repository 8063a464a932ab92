"""The compiled GELU and LayerNorm against the plain ops they replace, and
where the encoder takes them."""

import numpy as np
import pytest
import tensorflow as tf

from model import bert_config
from model import fused_ops
from model import layers
from model import modeling

SHAPE = [3, 5, 7]  # odd sizes: a transposed reduction would show


def forward_and_gradients(dtype, fused):
  """A traced dense + GELU -> LayerNorm, on the compiled kernels or the
  plain ops: its outputs and gradients as float32, and the function."""
  rng = np.random.default_rng(0)
  dense = layers.Dense("probe/dense", SHAPE[-1], 6, activation="gelu")
  norm = layers.LayerNorm("probe", 6)
  variables = [dense.kernel, dense.bias, norm.gamma, norm.beta]
  for var in variables:
    var.assign(rng.normal(size=var.shape).astype(np.float32))
  x = tf.constant(2 * rng.normal(size=SHAPE), dtype)
  dy = tf.constant(rng.normal(size=SHAPE[:-1] + [6]), dtype)

  @tf.function
  def run(x, dy):
    with tf.GradientTape() as tape:
      tape.watch(x)
      activated = dense(x, fused)
      normalized = norm(activated, fused)
    grads = tape.gradient(normalized, [x, *variables], dy)
    return [tf.cast(t, tf.float32) for t in [activated, normalized, *grads]]

  return [t.numpy() for t in run(x, dy)], run


@pytest.fixture(scope="module")
def fused_float32():
  return forward_and_gradients(tf.float32, fused=True)


def called_functions(run, dtype=tf.float32):
  graph = run.get_concrete_function(
    tf.TensorSpec(SHAPE, dtype), tf.TensorSpec(SHAPE[:-1] + [6], dtype)
  ).graph
  return " ".join(
    op.get_attr("f").name
    for op in graph.get_operations()
    if op.type in ("StatefulPartitionedCall", "PartitionedCall")
  )


def test_compiled_kernels_are_used_when_asked(fused_float32):
  _, run = fused_float32
  called = called_functions(run)
  assert "_bias_gelu_forward" in called and "_layer_norm_forward" in called
  _, plain = forward_and_gradients(tf.float32, fused=False)
  assert "_forward" not in called_functions(plain)


def test_compiled_kernels_equal_the_plain_ops(fused_float32):
  fused, _ = fused_float32
  plain, _ = forward_and_gradients(tf.float32, fused=False)
  names = ["gelu", "layer_norm", "d_x", "d_kernel", "d_bias", "d_gamma"]
  for name, ours, reference in zip(names + ["d_beta"], fused, plain):
    np.testing.assert_allclose(ours, reference, atol=2e-5, err_msg=name)


def test_bfloat16_runs_in_float32_inside(fused_float32):
  fused, _ = fused_float32
  low, _ = forward_and_gradients(tf.bfloat16, fused=True)
  # bfloat16 inputs and outputs (8 bits of mantissa), float32 arithmetic
  for ours, reference in zip(low, fused):
    scale = max(1.0, np.abs(reference).max())
    np.testing.assert_allclose(ours, reference, atol=0.05 * scale, rtol=0.02)


def test_the_encoder_decides_once_per_call():
  config = bert_config.BertConfig(
    vocab_size=11, hidden_size=14, num_hidden_layers=1, num_attention_heads=2,
    intermediate_size=9, max_position_embeddings=8,
  )  # fmt: skip
  auto = modeling.BertModel(config, "auto_probe")
  plain = modeling.BertModel(config, "plain_probe", fused_kernels=False)
  assert auto.fused_kernels == fused_ops.xla_on_every_device()
  assert plain.fused_kernels is False
  ids = tf.zeros([2, 5], tf.int32)
  assert not auto.uses_fused_kernels(ids)  # eager
  seen = []

  def decide(ids):
    seen.append((auto.uses_fused_kernels(ids), plain.uses_fused_kernels(ids)))
    return ids

  tf.function(decide).get_concrete_function(tf.TensorSpec([2, 5], tf.int32))
  tf.function(decide).get_concrete_function(tf.TensorSpec([None, 5], tf.int32))
  assert seen == [(auto.fused_kernels, False), (False, False)]


def test_fused_kernels_accepts_only_auto_or_false():
  assert fused_ops.available(False) is False
  for bad in (True, "on", None, 0):
    with pytest.raises(ValueError, match="fused_kernels"):
      fused_ops.available(bad)


@pytest.mark.parametrize(
  "kinds, cuda, expected",
  [
    (["CPU"], False, True),
    (["CPU", "GPU"], True, True),
    (["CPU", "GPU"], False, False),  # a GPU plugin, such as Apple's Metal
    (["CPU", "XPU"], False, False),
  ],
)
def test_plain_ops_on_devices_without_xla(monkeypatch, kinds, cuda, expected):
  devices = [
    tf.config.PhysicalDevice(f"/physical_device:{k}:0", k) for k in kinds
  ]
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda: devices)
  monkeypatch.setattr(tf.test, "is_built_with_gpu_support", lambda: cuda)
  fused_ops.xla_on_every_device.cache_clear()
  try:
    assert fused_ops.xla_on_every_device() == expected
    assert fused_ops.available("auto") == expected
  finally:
    fused_ops.xla_on_every_device.cache_clear()
