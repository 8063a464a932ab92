"""Stand-ins that let Google's TF1 ELECTRA code build its graph on TF 2.x.

Tests and benchmarks only, never imported by the product. TF 2.16+ removed
``tf.contrib``, ``tf.estimator`` and (with Keras 3) ``tf.compat.v1.layers
.dense``; the official modules use all three. Each stand-in creates the same
variables, under the same names and with the same maths, as what it replaces:

  * ``dense``: ``<name or dense[_k]>/kernel`` [in, units] and ``/bias`` [units];
  * ``layer_norm``: ``<scope or LayerNorm>/beta`` and ``/gamma``, epsilon 1e-12
    over the last axis (``tf.contrib.layers.layer_norm``'s maths);
  * ``tf.estimator``: the two hook classes ``util/training_utils.py`` names
    at import time (the benchmark drives a ``tf.compat.v1.Session`` itself).
"""

import sys
import types

import tensorflow.compat.v1 as tf1


def dense(
  inputs,
  units,
  activation=None,
  use_bias=True,
  kernel_initializer=None,
  name=None,
  **unused_kwargs,
):
  """``tf.layers.dense`` on the last axis of ``inputs`` [..., in]."""
  if kernel_initializer is None:
    kernel_initializer = tf1.glorot_uniform_initializer()
  with tf1.variable_scope(name, default_name="dense"):
    width = inputs.shape[-1]
    kernel = tf1.get_variable(
      "kernel", [width, units], initializer=kernel_initializer
    )
    outputs = tf1.tensordot(inputs, kernel, [[inputs.shape.rank - 1], [0]])
    if use_bias:
      bias = tf1.get_variable(
        "bias", [units], initializer=tf1.zeros_initializer()
      )
      outputs = tf1.nn.bias_add(outputs, bias)
  return activation(outputs) if activation is not None else outputs


def layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None):
  """``tf.contrib.layers.layer_norm`` over the last axis."""
  del begin_norm_axis, begin_params_axis  # the official code passes -1
  with tf1.variable_scope(scope, default_name="LayerNorm"):
    width = inputs.shape[-1]
    beta = tf1.get_variable(
      "beta", [width], initializer=tf1.zeros_initializer()
    )
    gamma = tf1.get_variable(
      "gamma", [width], initializer=tf1.ones_initializer()
    )
    mean, variance = tf1.nn.moments(inputs, [-1], keepdims=True)
    return tf1.nn.batch_normalization(
      inputs, mean, variance, beta, gamma, variance_epsilon=1e-12
    )


class _SessionRunHook:
  pass


def install():
  """Installs the stand-ins; call before importing any official module."""
  tf1.disable_v2_behavior()
  tf1.layers = types.SimpleNamespace(dense=dense)
  contrib = types.ModuleType("tensorflow.contrib")
  contrib.layers = types.SimpleNamespace(layer_norm=layer_norm)
  sys.modules["tensorflow.contrib"] = contrib
  sys.modules["tensorflow.contrib.layers"] = contrib.layers
  if not hasattr(tf1, "estimator"):
    tf1.estimator = types.SimpleNamespace(
      SessionRunHook=_SessionRunHook,
      SessionRunArgs=lambda fetches: fetches,
    )
