"""Intermediate matches of distillation (TextBrewer's ``matches``): a
student layer's hidden states or attention scores taught by a teacher
layer's, besides the soft labels.

A match is ``{"student_layer": i, "teacher_layer": j, "feature": "hidden"
or "attention", "weight": w}`` (weight 1 when absent). For ``hidden``,
layer 0 is the embeddings' output and layer i the i-th transformer layer's;
``attention`` takes layers 1..L and needs equal head counts. A student
whose width differs from its teacher's maps its states through a learned
linear map [student_hidden, teacher_hidden] (`Projections`), trained with
the student at the task heads' learning rate and kept in its step
checkpoints, not in what is exported.

Each match's mean over real tokens (and units, or heads and key tokens) is
multiplied by the batch size, so that like the task losses, which the
official code sums over a batch, it scales with the batch.
"""

import tensorflow as tf

from finetune import distill_losses
from model import layers

FEATURES = ("hidden", "attention")
KEYS = ("student_layer", "teacher_layer", "feature", "weight")
PROJECTION_SCOPE = "distillation/"


def _field_error(index, message):
  return ValueError(f"hparam 'distillation.matches[{index}]': {message}")


def check_fields(matches):
  """Field-level checks of the ``matches`` hparam (a list of dicts)."""
  if not isinstance(matches, list):
    raise ValueError("hparam 'distillation.matches' must be a list of dicts")
  for index, match in enumerate(matches):
    if not isinstance(match, dict):
      raise _field_error(index, f"must be a dict with keys {list(KEYS)}")
    unknown = sorted(set(match) - set(KEYS))
    if unknown:
      raise _field_error(index, f"unknown keys {unknown}; known: {list(KEYS)}")
    for key in ("student_layer", "teacher_layer"):
      value = match.get(key)
      if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _field_error(index, f"{key!r} must be an int >= 0, got {value!r}")
    if match.get("feature") not in FEATURES:
      raise _field_error(
        index, f"'feature' must be one of {list(FEATURES)}, got "
        f"{match.get('feature')!r}"
      )  # fmt: skip
    weight = match.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
      raise _field_error(index, f"'weight' must be a number, got {weight!r}")
    if weight < 0:
      raise _field_error(index, f"'weight' must be >= 0, got {weight}")


def check_shapes(matches, student, teacher):
  """Layers out of range and attention matches of unequal head counts are
  errors (``student``, ``teacher``: their `BertConfig`)."""
  for index, match in enumerate(matches):
    first = 0 if match["feature"] == "hidden" else 1
    for key, config in (("student_layer", student), ("teacher_layer", teacher)):
      depth = config.num_hidden_layers
      if not first <= match[key] <= depth:
        raise _field_error(
          index, f"{key} {match[key]} is not a layer of {match['feature']} "
          f"({first}..{depth}: the {key.split('_')[0]} has {depth} layers)"
        )  # fmt: skip
    heads = (student.num_attention_heads, teacher.num_attention_heads)
    if match["feature"] == "attention" and heads[0] != heads[1]:
      raise _field_error(
        index, f"attention matches need equal head counts; the student has "
        f"{heads[0]}, the teacher {heads[1]}"
      )  # fmt: skip


class Projections(tf.Module):
  """The learned maps of the hidden matches whose widths differ, as
  variables ``distillation/projection_<match>/kernel``."""

  def __init__(self, matches, student_width, teacher_width):
    super().__init__(name=None)
    self.kernels = {}
    if student_width == teacher_width:
      return
    for index, match in enumerate(matches):
      if match["feature"] == "hidden":
        self.kernels[index] = tf.Variable(
          layers.glorot_uniform([student_width, teacher_width]),
          name=f"{PROJECTION_SCOPE}projection_{index}/kernel",
        )

  def by_name(self):
    """{variable name: variable}."""
    return {v.name.split(":")[0]: v for v in self.kernels.values()}


def taught_features(matches, taps):
  """{``teacher/match_<k>``: the teacher's states or scores} of a batch,
  from the teacher's `modeling.LayerTaps`."""
  features = {}
  for index, match in enumerate(matches):
    layer = match["teacher_layer"]
    if match["feature"] == "hidden":
      value = taps.hidden[layer]
    else:
      value = taps.attention[layer - 1]
    features[f"teacher/match_{index}"] = tf.cast(value, tf.float32)
  return features


def loss(matches, projections, taps, features, token_weights):
  """The weighted sum of the matches' losses of a batch.

  Args:
    matches: the checked ``distillation.matches``.
    projections: a `Projections`.
    taps: the student's `modeling.LayerTaps` of the batch.
    features: the batch, with `taught_features`.
    token_weights: [rows, seq_len] (1 for real tokens of counted examples).
  """
  batch_size = tf.cast(tf.shape(features["task_id"])[0], tf.float32)
  total = 0.0
  for index, match in enumerate(matches):
    teacher = tf.stop_gradient(features[f"teacher/match_{index}"])
    layer = match["student_layer"]
    if match["feature"] == "hidden":
      per_example = distill_losses.hidden_mse(
        taps.hidden[layer], teacher, token_weights,
        projections.kernels.get(index),
      )  # fmt: skip
    else:
      per_example = distill_losses.attention_mse(
        taps.attention[layer - 1], teacher, token_weights
      )
    weight = float(match.get("weight", 1.0))
    total += weight * batch_size * tf.reduce_sum(per_example)
  return total
