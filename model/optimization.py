"""The official ELECTRA optimizer: Adam with decoupled weight decay.

Semantics of the official ``model/optimization.py``:
  * Adam without bias correction, beta1 0.9, beta2 0.999, epsilon 1e-6;
  * decoupled weight decay (added to the Adam update, scaled by the learning
    rate), not applied to LayerNorm/layer_norm/bias variables;
  * learning rate: polynomial decay to 0 over num_train_steps, times
    min(1, step / warmup_steps);
  * optional layer-wise learning-rate decay for fine-tuning.
Gradient clipping (global norm 1.0) is done by the caller before
`apply_gradients`, as in the official ``create_optimizer``.
Slots are named ``<variable>/adam_m`` and ``<variable>/adam_v`` as official.
"""

import collections
import re

import tensorflow as tf

from model import adam_kernel
from model import fused_ops
from model import modeling

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def learning_rate_at(
  step,
  learning_rate,
  num_train_steps,
  warmup_steps=0,
  warmup_proportion=0.0,
  lr_decay_power=1.0,
):
  """The official schedule at ``step`` (a scalar tensor or number).

  Polynomial decay from ``learning_rate`` to 0 over ``num_train_steps`` with
  power ``lr_decay_power``, times ``min(1, step / warmup)`` where warmup is
  ``max(num_train_steps * warmup_proportion, warmup_steps)``. With no warmup
  the official code computes 0 / 0 = NaN at step 0; we use a factor of 1.
  """
  step = tf.cast(step, tf.float32)
  progress = tf.minimum(step, float(num_train_steps)) / float(num_train_steps)
  lr = learning_rate * tf.pow(1.0 - progress, lr_decay_power)
  warmup = max(num_train_steps * warmup_proportion, warmup_steps)
  if warmup > 0:
    lr *= tf.minimum(1.0, step / float(warmup))
  return lr


def layerwise_lr_multipliers(layer_decay, n_layers, head_scope):
  """Learning-rate multipliers by variable-name key, as official.

  Depths: embeddings (and embeddings_project) 0, ``encoder/layer_i`` i + 1,
  the heads under ``head_scope`` (fine-tuning: ``task_specific/``; a
  tuple names several scopes) n + 2;
  multiplier = decay ** (n + 2 - depth). Depth
  n + 1 (the pooler of BERT) is unused, so the top transformer layer gets
  decay ** 2 rather than decay; we keep this because CLUE's and the paper's
  published fine-tuning results were obtained with it.

  Returns:
    An ordered dict {name key: multiplier}.
  """
  head_scopes = (head_scope,) if isinstance(head_scope, str) else head_scope
  depths = collections.OrderedDict(
    [("/embeddings/", 0), ("/embeddings_project/", 0)]
    + [(scope, n_layers + 2) for scope in head_scopes]
  )
  for layer in range(n_layers):
    depths[f"encoder/layer_{layer}/"] = layer + 1
  return collections.OrderedDict(
    (key, layer_decay ** (n_layers + 2 - depth))
    for key, depth in depths.items()
  )


def multiplier_for(name, multipliers):
  """The multiplier of the first key contained in ``name`` (official match)."""
  for key, multiplier in multipliers.items():
    if key in name:
      return multiplier
  raise ValueError(
    f"No layer-wise learning rate matches variable {name!r}; "
    f"keys are {list(multipliers)}"
  )


class AdamWeightDecay(tf.Module):
  """Adam with decoupled weight decay and no bias correction (official).

  Args:
    learning_rate_fn: step (int64 scalar tensor) -> learning rate.
    weight_decay_rate: decoupled weight decay.
    layer_multipliers: optional {name key: multiplier} (layer-wise decay).
    dynamic_loss_scale: for float16: the loss is multiplied by a scale that
      halves after a step with non-finite gradients (the step is skipped)
      and doubles after 2000 finite steps.
    fused_kernels: the hparam: "auto" updates each weight with one
      compiled kernel (`adam_kernel`) where that is possible, False with
      TensorFlow's ops one by one.
  """

  def __init__(
    self,
    learning_rate_fn,
    weight_decay_rate=0.0,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-6,
    exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY,
    layer_multipliers=None,
    dynamic_loss_scale=False,
    fused_kernels="auto",
  ):
    super().__init__(name=None)
    self.learning_rate_fn = learning_rate_fn
    # decided once: the compiled update needs XLA on every device
    self.compiled_update = fused_ops.available(fused_kernels)
    self.weight_decay_rate = weight_decay_rate
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
    self.layer_multipliers = layer_multipliers
    self.global_step = tf.Variable(
      0, dtype=tf.int64, name="global_step", trainable=False
    )
    self.adam_m = {}
    self.adam_v = {}
    self.loss_scale = self.good_steps = None
    if dynamic_loss_scale:
      self.loss_scale = tf.Variable(2.0**15, trainable=False, name="loss_scale")
      self.good_steps = tf.Variable(
        0, dtype=tf.int64, trainable=False, name="good_steps"
      )

  def scale_loss(self, loss):
    return loss if self.loss_scale is None else loss * self.loss_scale

  def unscale(self, grads):
    if self.loss_scale is None:
      return grads
    return [None if g is None else _divided(g, self.loss_scale) for g in grads]

  def build(self, variables):
    """Creates the zero-initialised slots of ``variables`` (once each)."""
    for var in variables:
      name = modeling.variable_name(var)
      if name in self.adam_m:
        continue
      with tf.init_scope():
        self.adam_m[name] = tf.Variable(
          tf.zeros(var.shape, tf.float32),
          name=f"{name}/adam_m",
          trainable=False,
        )
        self.adam_v[name] = tf.Variable(
          tf.zeros(var.shape, tf.float32),
          name=f"{name}/adam_v",
          trainable=False,
        )

  def use_weight_decay(self, name):
    if not self.weight_decay_rate:
      return False
    return not any(
      re.search(pattern, name) for pattern in self.exclude_from_weight_decay
    )

  def learning_rate(self):
    """The learning rate of the next update (before layer-wise scaling)."""
    return self.learning_rate_fn(self.global_step)

  def apply_gradients(self, grads_and_vars, finite=None):
    """Applies one update and increments ``global_step``.

    Works in eager mode, in a `tf.function` and inside ``strategy.run`` (the
    gradients must already be summed across replicas).

    Args:
      grads_and_vars: (gradient, variable) pairs.
      finite: optional bool scalar; when false the step is skipped (weights,
        slots and global_step unchanged) and the loss scale, if any, halves.
    """
    grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
    if finite is None:
      finite = tf.constant(True)
    if tf.distribute.in_cross_replica_context():
      return self._apply(tf.distribute.get_strategy(), grads_and_vars, finite)
    return tf.distribute.get_replica_context().merge_call(
      self._apply, args=(grads_and_vars, finite)
    )

  def _apply(self, strategy, grads_and_vars, finite):
    # one branch around every update, taken only when the step is finite
    # (not a cond per weight: the step traces and optimises twice as fast)
    finite = strategy.experimental_local_results(finite)[0]
    base_lr = self.learning_rate()

    def update_all():
      # the coefficients and the learning rate of each multiplier are made
      # once, not once per weight (a third fewer ops to trace and optimise)
      coefficients = self._coefficients()
      rates = {}
      for grad, var in grads_and_vars:
        name = modeling.variable_name(var)
        multiplier = 1.0
        if self.layer_multipliers is not None:
          multiplier = multiplier_for(name, self.layer_multipliers)
        if multiplier not in rates:
          rates[multiplier] = base_lr * multiplier
        strategy.extended.update(
          var,
          self._update_variable,
          args=(
            grad,
            self.adam_m[name],
            self.adam_v[name],
            rates[multiplier],
            self.use_weight_decay(name),
            coefficients,
          ),
          group=False,
        )
      return tf.constant(True)

    tf.cond(finite, update_all, lambda: tf.constant(False))
    self.global_step.assign_add(tf.cast(finite, tf.int64))
    if self.loss_scale is not None:
      self._update_loss_scale(finite)

  def _coefficients(self):
    """The update's float32 constants, rounded from the same Python values
    as official (``1.0 - beta_1`` is formed in double precision)."""
    values = {
      "beta_1": self.beta_1,
      "one_minus_beta_1": 1.0 - self.beta_1,
      "beta_2": self.beta_2,
      "one_minus_beta_2": 1.0 - self.beta_2,
      "epsilon": self.epsilon,
      "weight_decay_rate": self.weight_decay_rate,
    }
    return {k: tf.constant(v, tf.float32) for k, v in values.items()}

  def _update_loss_scale(self, finite):
    grow = tf.logical_and(finite, self.good_steps + 1 >= 2000)
    self.loss_scale.assign(
      tf.where(
        grow,
        self.loss_scale * 2.0,
        tf.where(
          finite, self.loss_scale, tf.maximum(self.loss_scale / 2.0, 1.0)
        ),
      )
    )
    self.good_steps.assign(
      tf.where(
        tf.logical_and(finite, ~grow),
        self.good_steps + 1,
        tf.zeros_like(self.good_steps),
      )
    )

  def _update_variable(self, var, grad, m, v, lr, use_decay, coefficients):
    """The official update of one weight and its slots."""
    c = coefficients
    if self.compiled_update and adam_kernel.applicable(var):
      # one compiled loop; an embedding's rows are scattered into a dense
      # gradient first (two passes, where the row-wise update below makes
      # ten), so both kinds of gradient give the same weights bit for bit
      if isinstance(grad, tf.IndexedSlices):
        grad = tf.scatter_nd(grad.indices[:, None], grad.values, var.shape)
      decay_rate = c["weight_decay_rate"] if use_decay else tf.zeros([])
      adam_kernel.update(
        var, m, v, tf.cast(grad, tf.float32), lr, decay_rate, c
      )
      return
    if isinstance(grad, tf.IndexedSlices):
      # the training step sums repeated rows already (summing unique rows
      # again changes nothing); other callers may pass raw slices
      next_m, next_v = _moments_of_rows(summed_rows(grad), m, v, c)
    else:
      grad = tf.convert_to_tensor(grad, tf.float32)
      next_m = c["beta_1"] * m + c["one_minus_beta_1"] * grad
      next_v = c["beta_2"] * v + c["one_minus_beta_2"] * tf.square(grad)
    update = next_m / (tf.sqrt(next_v) + c["epsilon"])
    if use_decay:
      update += c["weight_decay_rate"] * var
    m.assign(next_m)
    v.assign(next_v)
    var.assign_sub(lr * update)


def summed_rows(grad):
  """An IndexedSlices gradient with each row once.

  Repeated rows are summed in the order they come, as densifying the
  gradient sums them (`tf.math.unsorted_segment_sum`), so the values are
  those of the dense gradient's rows, bit for bit.

  Args:
    grad: IndexedSlices with values [n, ...] and indices [n].

  Returns:
    IndexedSlices with values [u, ...] and unique indices [u].
  """
  rows, position = tf.unique(grad.indices)
  values = tf.math.unsorted_segment_sum(
    grad.values, position, tf.shape(rows)[0]
  )
  return tf.IndexedSlices(values, rows, grad.dense_shape)


def _moments_of_rows(grad, m, v, c):
  """The official next m and v for a gradient of unique rows, as tensors.

  A row without gradient gets ``beta * slot + (1 - beta) * 0``, which is
  ``beta * slot`` exactly; so only the gradient's rows need the second
  term, added where the dense update adds it. The result equals the dense
  update bit for bit, without densifying the gradient and four passes over
  the whole table (an embedding's gradient touches a few hundred rows).
  """
  rows = grad.indices[:, None]
  values = tf.convert_to_tensor(grad.values, tf.float32)
  # adds in place into the fresh products (`tf.tensor_scatter_nd_add`
  # copies its input first: a pass over the table for nothing)
  next_m = tf.raw_ops.ScatterNdNonAliasingAdd(
    input=c["beta_1"] * m,
    indices=rows,
    updates=c["one_minus_beta_1"] * values,
  )
  next_v = tf.raw_ops.ScatterNdNonAliasingAdd(
    input=c["beta_2"] * v,
    indices=rows,
    updates=c["one_minus_beta_2"] * tf.square(values),
  )
  return next_m, next_v


def _divided(grad, scale):
  """``grad`` / ``scale`` for a dense or an IndexedSlices gradient."""
  if isinstance(grad, tf.IndexedSlices):
    return tf.IndexedSlices(grad.values / scale, grad.indices, grad.dense_shape)
  return grad / scale


def create_optimizer(
  variables,
  learning_rate,
  num_train_steps,
  weight_decay_rate=0.0,
  warmup_steps=0,
  warmup_proportion=0.0,
  lr_decay_power=1.0,
  layerwise_lr_decay_power=-1,
  n_transformer_layers=None,
  head_scope=None,
  dynamic_loss_scale=False,
  lr_step_offset=0,
  fused_kernels="auto",
):
  """The official ``create_optimizer`` settings, as an `AdamWeightDecay`.

  Args:
    variables: the trainable variables (slots are created for them).
    lr_step_offset: 1 reads the schedule one step ahead, lr(t + 1), as the
      official TF1 graph does (its step counter is incremented before the
      update reads the rate); 0 uses lr(t).
    layerwise_lr_decay_power: > 0 enables layer-wise decay (fine-tuning).
    n_transformer_layers: depth of the encoder, for layer-wise decay.
    head_scope: the name prefix of the output heads (or a tuple of
      prefixes), for layer-wise decay.
    fused_kernels: the hparam (see `AdamWeightDecay`).
  """

  def schedule(step):
    return learning_rate_at(
      step + lr_step_offset,
      learning_rate,
      num_train_steps,
      warmup_steps,
      warmup_proportion,
      lr_decay_power,
    )

  multipliers = None
  if layerwise_lr_decay_power > 0:
    multipliers = layerwise_lr_multipliers(
      layerwise_lr_decay_power, n_transformer_layers, head_scope
    )
  optimizer = AdamWeightDecay(
    schedule,
    weight_decay_rate,
    layer_multipliers=multipliers,
    dynamic_loss_scale=dynamic_loss_scale,
    fused_kernels=fused_kernels,
  )
  optimizer.build(variables)
  return optimizer


def clip_by_global_norm(grads, clip_norm=1.0, use_norm=None):
  """Global-norm clipping as official (None gradients pass through);
  ``use_norm`` replaces the norm of ``grads`` when given."""
  clipped, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=use_norm)
  return clipped
