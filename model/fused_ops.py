"""GELU and LayerNorm as XLA-compiled kernels, forward and backward.

TensorFlow runs the element-wise ops of GELU and LayerNorm one at a time,
each a pass over memory. Compiled with XLA, each direction is one fused
loop: on a 2-core AVX-512 CPU, GELU over [4096, 1200] forward and backward
takes 3.3 instead of 8.9 ms, LayerNorm over [4096, 312] 2.5 instead of
5.1 ms. XLA compiles once per shape, so the layers use these kernels only
where shapes cannot vary (`applicable`): inside a traced function, on a
tensor whose shape is fully known (pretraining; fine-tuning without
bucketing), on CPUs, CUDA or ROCm GPUs and TPUs. Eager calls, bucketed
batches, serving signatures and plugin devices keep the plain ops.

Both kernels compute in float32 (a bfloat16 or float16 input is cast
inside the kernel, in the same pass) and equal the plain ops up to float
rounding: XLA evaluates erf with its own polynomial, within 1e-6 of
TensorFlow's, and the gradients are written out rather than derived op by
op.
"""

import functools
import math

import tensorflow as tf

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def applicable(x):
  """Whether ``x`` can go through a compiled kernel: in a traced function
  (not eagerly), with a fully known shape (one compilation per shape), on
  a machine whose devices all run XLA."""
  return (
    not tf.executing_eagerly()
    and x.shape.is_fully_defined()
    and xla_on_every_device()
  )


@functools.cache
def xla_on_every_device():
  """CPUs, CUDA or ROCm GPUs and TPUs run XLA-compiled functions; a
  PluggableDevice (Apple's Metal GPUs, Intel's XPUs) may not, so there the
  layers keep the plain ops."""
  kinds = {device.device_type for device in tf.config.list_physical_devices()}
  if not kinds <= {"CPU", "GPU", "TPU", "TPU_SYSTEM"}:
    return False
  return "GPU" not in kinds or tf.test.is_built_with_gpu_support()


def gelu_and_slope(x32):
  """Exact GELU x * Phi(x) of float32 ``x32`` and its derivative
  Phi(x) + x * phi(x), both of its shape."""
  cdf = 0.5 * (1.0 + tf.math.erf(x32 / _SQRT_2))
  density = tf.exp(-0.5 * tf.square(x32)) * _INV_SQRT_2PI
  return x32 * cdf, cdf + x32 * density


def leading_axes(x):
  """The axes of ``x`` but the last: those a bias gradient sums over."""
  return list(range(x.shape.rank - 1))


@tf.function(jit_compile=True, autograph=False)
def _gelu_forward(x):
  return tf.cast(gelu_and_slope(tf.cast(x, tf.float32))[0], x.dtype)


@tf.function(jit_compile=True, autograph=False)
def _gelu_backward(x, dy):
  _, slope = gelu_and_slope(tf.cast(x, tf.float32))
  return tf.cast(tf.cast(dy, tf.float32) * slope, dy.dtype)


@tf.custom_gradient
def gelu(x):
  """Exact (erf) GELU, x * Phi(x), compiled. x: any float [..., d]."""
  return _gelu_forward(x), lambda dy: _gelu_backward(x, dy)


def standardized(x32, epsilon):
  """(x - mean) / sqrt(variance + epsilon) over the last axis, and
  1 / sqrt(variance + epsilon) [..., 1]."""
  mean = tf.reduce_mean(x32, axis=-1, keepdims=True)
  centered = x32 - mean
  variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
  inverse = tf.math.rsqrt(variance + epsilon)
  return centered * inverse, inverse


@tf.function(jit_compile=True, autograph=False)
def _layer_norm_forward(x, gamma, beta, epsilon):
  normalized, _ = standardized(tf.cast(x, tf.float32), epsilon)
  return tf.cast(normalized * gamma + beta, x.dtype)


def layer_norm_gradients(x32, gamma, dy, epsilon):
  """(d x, d gamma, d beta) of LayerNorm over the last axis, float32, for
  its input ``x32`` [..., d] (float32) and the output gradient ``dy``."""
  normalized, inverse = standardized(x32, epsilon)
  dy32 = tf.cast(dy, tf.float32)
  rows = leading_axes(x32)
  d_gamma = tf.reduce_sum(dy32 * normalized, axis=rows)
  d_beta = tf.reduce_sum(dy32, axis=rows)
  d_normalized = dy32 * gamma
  dx = inverse * (
    d_normalized
    - tf.reduce_mean(d_normalized, axis=-1, keepdims=True)
    - normalized
    * tf.reduce_mean(d_normalized * normalized, axis=-1, keepdims=True)
  )
  return dx, d_gamma, d_beta


@tf.function(jit_compile=True, autograph=False)
def _layer_norm_backward(x, gamma, dy, epsilon):
  dx, d_gamma, d_beta = layer_norm_gradients(
    tf.cast(x, tf.float32), gamma, dy, epsilon
  )
  return tf.cast(dx, x.dtype), d_gamma, d_beta


def layer_norm(x, gamma, beta, epsilon):
  """LayerNorm over the last axis, compiled; float32 inside.

  Args:
    x: [..., d], any float type (the output has it too).
    gamma, beta: float32 [d].
    epsilon: a Python float.
  """
  epsilon = tf.constant(epsilon, tf.float32)

  @tf.custom_gradient
  def normalize(x, gamma, beta):
    def grad(dy):
      return _layer_norm_backward(x, gamma, dy, epsilon)

    return _layer_norm_forward(x, gamma, beta, epsilon), grad

  return normalize(x, tf.convert_to_tensor(gamma), tf.convert_to_tensor(beta))
