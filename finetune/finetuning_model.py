"""The fine-tuning model: the ELECTRA discriminator plus one head per task."""

import tensorflow as tf

from model import model_sizes
from model import modeling

# every task head lives under this scope (the official name)
HEAD_SCOPE = "task_specific/"


def encoder_inputs(features):
  """(input_ids, input_mask, segment_ids) as [rows, seq_len]: a
  multiple-choice batch's [batch, choices, seq_len] options become
  ``batch * choices`` rows."""
  inputs = [
    tf.convert_to_tensor(features[name])
    for name in ("input_ids", "input_mask", "segment_ids")
  ]
  if inputs[0].shape.rank == 3:
    length = inputs[0].shape[-1] or tf.shape(inputs[0])[-1]
    return tuple(tf.reshape(x, [-1, length]) for x in inputs)
  return tuple(inputs)


class FinetuningModel(tf.Module):
  """Shared encoder (``electra/``) and task heads (``task_specific/<task>/``).

  Several tasks train jointly, as in the official code: each example carries
  its ``task_id`` and only its task's loss counts.
  """

  def __init__(self, config, tasks):
    super().__init__(name=None)
    self.tasks = tasks
    self.bert_config = model_sizes.get_bert_config(config)
    self.electra = modeling.BertModel(
      self.bert_config,
      "electra",
      config.embedding_size or self.bert_config.hidden_size,
      compute_dtype=modeling.COMPUTE_DTYPES[config.mixed_precision],
      fused_kernels=config.fused_kernels,
    )
    self.heads = {t.name: t.build_head(self.bert_config) for t in tasks}

  def __call__(self, features, training, taps=None):
    """The fine-tuning loss of a batch, and every task's outputs.

    The loss is each example's loss under its own task (the first value of
    `Task.loss_and_outputs`), summed, not averaged, over the batch, as
    official: the published fine-tuning results were obtained this way.

    Args:
      features: a batch dict (``task_id`` [batch] and the tasks' features).
      training: enables dropout.
      taps: an optional `modeling.LayerTaps` collecting the encoder's
        layers (distillation).

    Returns:
      (loss, {task name: {output name: tensor [batch, ...]}}).
    """
    # the heads and losses run in float32 under mixed precision
    sequence = tf.cast(
      self.electra(*encoder_inputs(features), training, taps), tf.float32
    )
    total, outputs = 0.0, {}
    for task_id, task in enumerate(self.tasks):
      losses, outputs[task.name] = task.loss_and_outputs(
        self.heads[task.name], sequence, features, training
      )
      in_task = tf.cast(tf.equal(features["task_id"], task_id), tf.float32)
      total += tf.reduce_sum(losses * in_task)
    return total, outputs

  def official_variables(self):
    return modeling.variables_by_name(self)
