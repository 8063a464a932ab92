"""The compiled GELU and LayerNorm against the plain ops they replace."""

import numpy as np
import pytest
import tensorflow as tf

from model import fused_ops
from model import layers

SHAPE = [3, 5, 7]  # odd sizes: a transposed reduction would show


def plain_ops(monkeypatch):
  monkeypatch.setattr(fused_ops, "applicable", lambda x: False)


def forward_and_gradients(dtype):
  """A traced GELU -> LayerNorm, its outputs and gradients as float32."""
  rng = np.random.default_rng(0)
  norm = layers.LayerNorm("probe", SHAPE[-1])
  norm.gamma.assign(rng.normal(size=SHAPE[-1]).astype(np.float32))
  norm.beta.assign(rng.normal(size=SHAPE[-1]).astype(np.float32))
  x = tf.constant(2 * rng.normal(size=SHAPE), dtype)
  dy = tf.constant(rng.normal(size=SHAPE), dtype)

  @tf.function
  def run(x, dy):
    with tf.GradientTape() as tape:
      tape.watch(x)
      activated = layers.gelu(x)
      normalized = norm(activated)
    grads = tape.gradient(normalized, [x, norm.gamma, norm.beta], dy)
    return [tf.cast(t, tf.float32) for t in [activated, normalized, *grads]]

  return [t.numpy() for t in run(x, dy)], run


@pytest.fixture(scope="module")
def fused_float32():
  return forward_and_gradients(tf.float32)


def test_compiled_kernels_are_used_in_a_traced_step(fused_float32):
  _, run = fused_float32
  graph = run.get_concrete_function(
    tf.TensorSpec(SHAPE, tf.float32), tf.TensorSpec(SHAPE, tf.float32)
  ).graph
  called = {
    op.get_attr("f").name
    for op in graph.get_operations()
    if op.type in ("StatefulPartitionedCall", "PartitionedCall")
  }
  assert any("_gelu_forward" in name for name in called)
  assert any("_layer_norm_forward" in name for name in called)


def test_compiled_kernels_equal_the_plain_ops(fused_float32, monkeypatch):
  fused, _ = fused_float32
  plain_ops(monkeypatch)
  plain, _ = forward_and_gradients(tf.float32)
  names = ["gelu", "layer_norm", "d_x", "d_gamma", "d_beta"]
  for name, ours, reference in zip(names, fused, plain):
    np.testing.assert_allclose(ours, reference, atol=2e-6, err_msg=name)


def test_bfloat16_runs_in_float32_inside(fused_float32):
  fused, _ = fused_float32
  low, _ = forward_and_gradients(tf.bfloat16)
  # bfloat16 inputs and outputs (8 bits of mantissa), float32 arithmetic
  for ours, reference in zip(low, fused):
    np.testing.assert_allclose(ours, reference, atol=0.05, rtol=0.02)


def test_plain_ops_when_eager_or_when_shapes_vary():
  assert not fused_ops.applicable(tf.zeros(SHAPE))
  seen = []

  @tf.function(input_signature=[tf.TensorSpec([None, 7], tf.float32)])
  def variable_rows(x):
    seen.append(fused_ops.applicable(x))
    return layers.gelu(x)

  variable_rows(tf.ones([2, 7]))
  assert seen == [False]


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
  finally:
    fused_ops.xla_on_every_device.cache_clear()
