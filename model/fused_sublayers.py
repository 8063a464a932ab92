"""The element-wise work around a transformer layer's matmuls, compiled.

Between its matmuls a layer adds biases, applies GELU, scales, masks and
normalises the attention scores, draws dropout, adds residuals and
normalises: as TensorFlow ops each is a pass over memory, in bfloat16 a
slow one (Eigen converts every element), with casts to float32 and back
and a separate bias gradient. Here each chain is one XLA-compiled loop,
forward and backward, computing in float32 and reading and writing the
compute dtype; the matmuls stay TensorFlow's (oneDNN, which runs bfloat16
on AMX). Three chains:

- `attention_probs`: scale, attention bias, softmax, dropout;
- `bias_gelu`: the intermediate dense's bias and GELU;
- `bias_dropout_add_norm`: an output dense's bias, dropout, the residual
  and LayerNorm.

Dropout's keep-mask is a hash of each element's position and a per-call
seed (`dropout_bits.hashed_keep_mask`), made inside the loop: drawing
random numbers (TensorFlow's Philox, XLA's is slower still) and passing
them through memory cost more than the softmax they mask. The drop
probability and scaling are the plain layers' (`dropout_bits.kept`); the
backward makes the same mask again from the seed. The backward of the
LayerNorm chains recomputes the forward from its inputs; the attention's
keeps the float32 probabilities.

Only where shapes are fixed (`fused_ops.shape_is_fixed`); XLA compiles
once per shape. `modeling.BertModel` decides, once per call, whether its
sublayers take these kernels or the plain ops written beside them.
"""

import tensorflow as tf

from model import dropout_bits
from model import fused_ops

_F32 = tf.float32


def _dropout_inputs(rate, training):
  """(per-call seed, rate) of a compiled dropout, or None when nothing is
  dropped."""
  if not training or not rate:
    return None
  return dropout_bits.random_seed(), rate


def _dropped(x, drop):
  """``x`` with dropout applied inside a kernel; ``drop`` from
  `_dropout_inputs` (None: ``x`` as it is)."""
  if drop is None:
    return x
  seed, rate = drop
  return dropout_bits.kept(
    x, dropout_bits.hashed_keep_mask(x.shape, seed, rate), rate
  )


@tf.function(jit_compile=True, autograph=False)
def _probs_forward(scores, bias, scale, drop):
  probs = tf.nn.softmax(tf.cast(scores, _F32) * scale + bias)
  return tf.cast(_dropped(probs, drop), scores.dtype), probs


@tf.function(jit_compile=True, autograph=False)
def _probs_backward(probs, scale, drop, dy):
  d_probs = _dropped(tf.cast(dy, _F32), drop)
  d_scores = probs * (
    d_probs - tf.reduce_sum(d_probs * probs, axis=-1, keepdims=True)
  )
  return tf.cast(d_scores * scale, dy.dtype)


def attention_probs(scores, bias, scale, rate, training):
  """dropout(softmax(scores * scale + bias)), one kernel each way.

  Args:
    scores: [batch, heads, seq_len, seq_len] q·k, the compute dtype.
    bias: float32, broadcastable to scores: 0 to attend, -10000 not.
    scale: a Python float, 1 / sqrt(head_size).
    rate: the attention dropout rate; training: whether to drop.

  Returns:
    The attention probabilities, dropped, [batch, heads, seq_len, seq_len]
    in the dtype of ``scores``.
  """
  drop = _dropout_inputs(rate, training)
  scale = tf.constant(scale, _F32)

  @tf.custom_gradient
  def attend(scores):
    dropped, probs = _probs_forward(scores, bias, scale, drop)

    def grad(dy):
      # the float32 probabilities are kept: recomputing the softmax costs
      # more than reading them
      return _probs_backward(probs, scale, drop, dy)

    return dropped, grad

  return attend(scores)


@tf.function(jit_compile=True, autograph=False)
def _bias_gelu_forward(y, bias):
  return tf.cast(fused_ops.gelu_and_slope(tf.cast(y, _F32) + bias)[0], y.dtype)


@tf.function(jit_compile=True, autograph=False)
def _bias_gelu_backward(y, bias, dy):
  _, slope = fused_ops.gelu_and_slope(tf.cast(y, _F32) + bias)
  d_pre = tf.cast(dy, _F32) * slope
  d_bias = tf.reduce_sum(d_pre, axis=fused_ops.leading_axes(y))
  return tf.cast(d_pre, y.dtype), d_bias


def bias_gelu(y, bias):
  """Exact GELU of ``y + bias``; the bias gradient summed in the kernel.

  Args:
    y: [..., d], a matmul's output in the compute dtype.
    bias: float32 [d].
  """

  @tf.custom_gradient
  def activate(y, bias):
    def grad(dy):
      return _bias_gelu_backward(y, bias, dy)

    return _bias_gelu_forward(y, bias), grad

  return activate(y, tf.convert_to_tensor(bias))


def _summed(y, bias, residual, drop):
  pre = _dropped(tf.cast(y, _F32) + bias, drop)
  return pre + tf.cast(residual, _F32)


@tf.function(jit_compile=True, autograph=False)
def _add_norm_forward(y, bias, residual, gamma, beta, epsilon, drop):
  summed = _summed(y, bias, residual, drop)
  normalized, _ = fused_ops.standardized(summed, epsilon)
  return tf.cast(normalized * gamma + beta, y.dtype)


@tf.function(jit_compile=True, autograph=False)
def _add_norm_backward(y, bias, residual, gamma, epsilon, dy, drop):
  summed = _summed(y, bias, residual, drop)
  d_sum, d_gamma, d_beta = fused_ops.layer_norm_gradients(
    summed, gamma, dy, epsilon
  )
  d_pre = _dropped(d_sum, drop)
  return (
    tf.cast(d_pre, y.dtype),
    tf.reduce_sum(d_pre, axis=fused_ops.leading_axes(y)),
    tf.cast(d_sum, residual.dtype),
    d_gamma,
    d_beta,
  )


def bias_dropout_add_norm(
  y, bias, residual, gamma, beta, epsilon, rate, training
):
  """LayerNorm(dropout(y + bias) + residual), one kernel each way.

  Args:
    y: [..., d], an output dense's matmul, the compute dtype.
    bias: float32 [d], that dense's bias.
    residual: [..., d], the sublayer's input, the compute dtype.
    gamma, beta: float32 [d], the LayerNorm's.
    epsilon: a Python float; rate: the dropout rate; training: whether
      to drop.

  Returns:
    [..., d] in the dtype of ``y``.
  """
  drop = _dropout_inputs(rate, training)
  epsilon = tf.constant(epsilon, _F32)

  @tf.custom_gradient
  def add_norm(y, bias, residual, gamma, beta):
    def grad(dy):
      return _add_norm_backward(y, bias, residual, gamma, epsilon, dy, drop)

    return _add_norm_forward(
      y, bias, residual, gamma, beta, epsilon, drop
    ), grad

  return add_norm(
    y,
    tf.convert_to_tensor(bias),
    residual,
    tf.convert_to_tensor(gamma),
    tf.convert_to_tensor(beta),
  )
