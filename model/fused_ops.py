"""What the compiled kernels share: when they run, GELU's and LayerNorm's
arithmetic, and LayerNorm as one XLA-compiled kernel each way.

TensorFlow runs element-wise ops one at a time, each a pass over memory;
compiled with XLA, a chain of them is one loop (docs/speed.md has the
figures). The encoder's chains are in `fused_sublayers`; LayerNorm alone
(the embeddings', the heads') is here. XLA compiles once per shape, so the
kernels run only where shapes cannot vary (`shape_is_fixed`), and only
where every device runs XLA (`available`). They compute in float32 (a
bfloat16 or float16 input is cast inside the kernel, in the same pass) and
equal the plain ops up to float rounding: XLA evaluates erf with its own
polynomial, within 1e-6 of TensorFlow's, and the gradients are written out
rather than derived op by op.
"""

import functools
import math

import tensorflow as tf

from util import hparams as hparams_lib

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def available(fused_kernels):
  """Whether the ``fused_kernels`` hparam turns the kernels on here:
  "auto" on machines whose devices all run XLA, False never."""
  hparams_lib.check_fused_kernels(fused_kernels)
  return fused_kernels == "auto" and xla_on_every_device()


def shape_is_fixed(x):
  """Whether ``x`` is in a traced function (not eager) with a fully known
  shape: the kernels compile once for it."""
  return not tf.executing_eagerly() and x.shape.is_fully_defined()


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
