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

from model import modeling

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def learning_rate_at(step, learning_rate, num_train_steps, warmup_steps=0,
                     warmup_proportion=0.0, lr_decay_power=1.0):
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


def layerwise_lr_multipliers(layer_decay, n_layers):
  """Learning-rate multipliers by variable-name key, as official.

  Depths: embeddings (and embeddings_project) 0, ``encoder/layer_i`` i + 1,
  ``task_specific/`` n + 2; multiplier = decay ** (n + 2 - depth). Depth
  n + 1 (the pooler of BERT) is unused, so the top transformer layer gets
  decay ** 2 rather than decay; we keep this because CLUE's and the paper's
  published fine-tuning results were obtained with it.

  Returns:
    An ordered dict {name key: multiplier}.
  """
  depths = collections.OrderedDict([("/embeddings/", 0),
                                    ("/embeddings_project/", 0),
                                    ("task_specific/", n_layers + 2)])
  for layer in range(n_layers):
    depths[f"encoder/layer_{layer}/"] = layer + 1
  return collections.OrderedDict(
      (key, layer_decay ** (n_layers + 2 - depth))
      for key, depth in depths.items())


def multiplier_for(name, multipliers):
  """The multiplier of the first key contained in ``name`` (official match)."""
  for key, multiplier in multipliers.items():
    if key in name:
      return multiplier
  raise ValueError(f"No layer-wise learning rate matches variable {name!r}; "
                   f"keys are {list(multipliers)}")


class AdamWeightDecay(tf.Module):
  """Adam with decoupled weight decay and no bias correction (official).

  Args:
    learning_rate_fn: step (int64 scalar tensor) -> learning rate.
    weight_decay_rate: decoupled weight decay.
    layer_multipliers: optional {name key: multiplier} (layer-wise decay).
  """

  def __init__(self, learning_rate_fn, weight_decay_rate=0.0, beta_1=0.9,
               beta_2=0.999, epsilon=1e-6,
               exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY,
               layer_multipliers=None):
    super().__init__(name=None)
    self.learning_rate_fn = learning_rate_fn
    self.weight_decay_rate = weight_decay_rate
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
    self.layer_multipliers = layer_multipliers
    self.global_step = tf.Variable(0, dtype=tf.int64, name="global_step",
                                   trainable=False)
    self.adam_m = {}
    self.adam_v = {}

  def build(self, variables):
    """Creates the zero-initialised slots of ``variables`` (once each)."""
    for var in variables:
      name = modeling.variable_name(var)
      if name in self.adam_m:
        continue
      with tf.init_scope():
        self.adam_m[name] = tf.Variable(tf.zeros(var.shape, tf.float32),
                                        name=f"{name}/adam_m",
                                        trainable=False)
        self.adam_v[name] = tf.Variable(tf.zeros(var.shape, tf.float32),
                                        name=f"{name}/adam_v",
                                        trainable=False)

  def use_weight_decay(self, name):
    if not self.weight_decay_rate:
      return False
    return not any(re.search(pattern, name)
                   for pattern in self.exclude_from_weight_decay)

  def learning_rate(self):
    """The learning rate of the next update (before layer-wise scaling)."""
    return self.learning_rate_fn(self.global_step)

  def apply_gradients(self, grads_and_vars):
    """Applies one update and increments ``global_step``.

    Works in eager mode, in a `tf.function` and inside ``strategy.run`` (the
    gradients must already be summed across replicas).
    """
    grads_and_vars = [(g, v) for g, v in grads_and_vars if g is not None]
    if tf.distribute.in_cross_replica_context():
      return self._apply(tf.distribute.get_strategy(), grads_and_vars)
    return tf.distribute.get_replica_context().merge_call(
        self._apply, args=(grads_and_vars,))

  def _apply(self, strategy, grads_and_vars):
    base_lr = self.learning_rate()
    for grad, var in grads_and_vars:
      name = modeling.variable_name(var)
      lr = base_lr
      if self.layer_multipliers is not None:
        lr = base_lr * multiplier_for(name, self.layer_multipliers)
      strategy.extended.update(
          var, self._update_variable,
          args=(grad, self.adam_m[name], self.adam_v[name], lr,
                self.use_weight_decay(name)),
          group=False)
    self.global_step.assign_add(1)

  def _update_variable(self, var, grad, m, v, lr, use_decay):
    grad = tf.convert_to_tensor(grad, tf.float32)
    next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
    next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    if use_decay:
      update += self.weight_decay_rate * var
    m.assign(next_m)
    v.assign(next_v)
    return var.assign_sub(lr * update)


def create_optimizer(variables, learning_rate, num_train_steps,
                     weight_decay_rate=0.0, warmup_steps=0,
                     warmup_proportion=0.0, lr_decay_power=1.0,
                     layerwise_lr_decay_power=-1, n_transformer_layers=None):
  """The official ``create_optimizer`` settings, as an `AdamWeightDecay`.

  Args:
    variables: the trainable variables (slots are created for them).
    layerwise_lr_decay_power: > 0 enables layer-wise decay (fine-tuning).
    n_transformer_layers: depth of the encoder, for layer-wise decay.
  """
  def schedule(step):
    return learning_rate_at(step, learning_rate, num_train_steps,
                            warmup_steps, warmup_proportion, lr_decay_power)
  multipliers = None
  if layerwise_lr_decay_power > 0:
    multipliers = layerwise_lr_multipliers(layerwise_lr_decay_power,
                                           n_transformer_layers)
  optimizer = AdamWeightDecay(schedule, weight_decay_rate,
                              layer_multipliers=multipliers)
  optimizer.build(variables)
  return optimizer


def clip_by_global_norm(grads, clip_norm=1.0):
  """Global-norm clipping as official (None gradients pass through)."""
  clipped, _ = tf.clip_by_global_norm(grads, clip_norm)
  return clipped
