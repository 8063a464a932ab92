"""Small building blocks with explicit, official-style variable names.

Every variable is created eagerly with its full TF1 name (for example
``electra/encoder/layer_0/attention/self/query/kernel``) so that a model's
variables map one-to-one onto the official checkpoints. We use ``tf.Module``
rather than Keras layers: Keras derives variable paths from build-time name
scopes, which would make those names depend on call order.
"""

import math

import tensorflow as tf

from model import dropout_bits
from model import fused_ops
from model import fused_sublayers

LAYER_NORM_EPSILON = 1e-12


def truncated_normal(stddev=0.02):
  """The official ``create_initializer``: truncated normal, cut at 2 stddev."""

  def init(shape):
    return tf.random.truncated_normal(shape, stddev=stddev)

  return init


def glorot_uniform(shape):
  """Default kernel initializer of TF1 ``tf.layers.dense``."""
  fan_in, fan_out = shape[0], shape[-1]
  limit = math.sqrt(6.0 / (fan_in + fan_out))
  return tf.random.uniform(shape, -limit, limit)


def gelu(x):
  """Exact (erf) GELU, as the official code: x * Phi(x)."""
  return x * 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


def get_activation(name):
  """Maps an activation name to a function (None for linear)."""
  if name is None or callable(name):
    return name
  activations = {
    "linear": None,
    "": None,
    "relu": tf.nn.relu,
    "gelu": gelu,
    "tanh": tf.tanh,
  }
  key = name.lower()
  if key not in activations:
    raise ValueError(
      f"Unsupported activation {name!r}; expected one of "
      f"{sorted(k for k in activations if k)}"
    )
  return activations[key]


def dropout(x, rate, training):
  """Inverted dropout, active only when training and rate > 0: kept values
  are scaled by 1 / (1 - rate) as in ``tf.nn.dropout``; which are kept is
  drawn with 16 random bits an element (`dropout_bits`), half the random
  numbers, so the drop probability is ``rate`` to within 2**-17."""
  if not training or not rate:
    return x
  keep = dropout_bits.random_keep_mask(tf.shape(x), rate)
  return dropout_bits.kept(x, keep, rate)


def new_variable(scope, name, shape, initializer):
  """Creates a float32 variable named ``<scope>/<name>``."""
  return tf.Variable(
    initializer(shape), name=f"{scope}/{name}", dtype=tf.float32
  )


def cast_like(x, compute_dtype):
  return x if x.dtype == compute_dtype else tf.cast(x, compute_dtype)


class Dense(tf.Module):
  """Fully connected layer on the last axis: ``[..., in] -> [..., out]``.

  Variables: ``<scope>/kernel`` [in, out] and ``<scope>/bias`` [out].
  """

  def __init__(
    self, scope, in_dim, out_dim, activation=None, kernel_initializer=None
  ):
    super().__init__(name=None)
    self.scope = scope
    init = kernel_initializer or truncated_normal()
    self.kernel = new_variable(scope, "kernel", [in_dim, out_dim], init)
    self.bias = new_variable(scope, "bias", [out_dim], tf.zeros)
    self.activation = get_activation(activation)

  def __call__(self, x, fused=False):
    """[..., in] -> [..., out]; ``fused``: a GELU's bias and activation as
    one compiled kernel each way (`fused_sublayers.bias_gelu`)."""
    if fused and self.activation is gelu:
      return fused_sublayers.bias_gelu(self.matmul(x), self.bias)
    y = self.matmul(x, with_bias=True)
    return self.activation(y) if self.activation else y

  def matmul(self, x, with_bias=False):
    """``x @ kernel`` (plus the bias when ``with_bias``): [..., in] ->
    [..., out], in the dtype of ``x``."""
    kernel = cast_like(self.kernel, x.dtype)
    # a 2-D matmul: the gradient of an ellipsis einsum is far slower on CPU
    y = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
    if with_bias:
      y = tf.nn.bias_add(y, cast_like(self.bias, x.dtype))
    if x.shape.rank != 2:
      y = tf.reshape(y, tf.concat([tf.shape(x)[:-1], [kernel.shape[1]]], 0))
    return y


class LayerNorm(tf.Module):
  """LayerNorm over the last axis, epsilon 1e-12, computed in float32.

  Variables: ``<scope>/LayerNorm/gamma`` and ``<scope>/LayerNorm/beta``.
  """

  def __init__(self, scope, dim):
    super().__init__(name=None)
    self.gamma = new_variable(scope, "LayerNorm/gamma", [dim], tf.ones)
    self.beta = new_variable(scope, "LayerNorm/beta", [dim], tf.zeros)

  def __call__(self, x, fused=False):
    """[..., d] -> [..., d] in the dtype of ``x``; ``fused``: one compiled
    kernel each way (`fused_ops.layer_norm`)."""
    if fused:
      return fused_ops.layer_norm(x, self.gamma, self.beta, LAYER_NORM_EPSILON)
    x32 = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(x32, axes=[-1], keepdims=True)
    y = tf.nn.batch_normalization(
      x32, mean, variance, self.beta, self.gamma, LAYER_NORM_EPSILON
    )
    return tf.cast(y, x.dtype)
