"""The official Adam-with-weight-decay update of one weight, compiled.

As TensorFlow ops the update is a dozen passes over the weight and its two
moments (multiply, add, square, square root, divide, decay, assign); XLA
makes it one loop that updates the three variables in place, about three
times faster on CPUs (docs/speed.md). XLA compiles once per weight shape
(about a dozen for an ELECTRA model).

The values equal the TensorFlow ops' up to float rounding (XLA may fuse a
multiply and an add into one rounding).
"""

import tensorflow as tf

from model import fused_ops


def applicable(var):
  """Whether ``var``'s update can run compiled (the optimizer asks when
  its ``fused_kernels`` are on): traced, with a known shape
  (`fused_ops.shape_is_fixed`), with one replica (with several, a
  mirrored variable's copies are updated by the plain ops: under the
  compiled update some copies stayed unchanged)."""
  replicas = tf.distribute.get_strategy().num_replicas_in_sync
  return replicas == 1 and fused_ops.shape_is_fixed(var)


@tf.function(jit_compile=True, autograph=False)
def update(var, m, v, grad, lr, decay_rate, coefficients):
  """One official update, in place.

  Args:
    var, m, v: float32 variables of one shape: the weight and its moments.
    grad: float32 [same shape], the clipped gradient.
    lr: float32 scalar, this weight's learning rate.
    decay_rate: float32 scalar, its decoupled weight decay (0 for none).
    coefficients: {"beta_1", "one_minus_beta_1", "beta_2",
      "one_minus_beta_2", "epsilon"} float32 scalars.
  """
  c = coefficients
  next_m = c["beta_1"] * m + c["one_minus_beta_1"] * grad
  next_v = c["beta_2"] * v + c["one_minus_beta_2"] * tf.square(grad)
  step = next_m / (tf.sqrt(next_v) + c["epsilon"]) + decay_rate * var
  m.assign(next_m)
  v.assign(next_v)
  var.assign_sub(lr * step)
