"""The fine-tuning model: the ELECTRA discriminator plus one head per task."""

import tensorflow as tf

from model import modeling
from util import training_utils

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
    self.bert_config = training_utils.get_bert_config(config)
    self.electra = modeling.BertModel(
      self.bert_config,
      "electra",
      config.embedding_size or self.bert_config.hidden_size,
      compute_dtype=modeling.COMPUTE_DTYPES[config.mixed_precision],
    )
    self.heads = {t.name: t.build_head(self.bert_config) for t in tasks}

  def __call__(self, features, training, taps=None):
    """Returns (summed loss, {task name: outputs}) of a batch; ``taps``
    (a `modeling.LayerTaps`) collects the encoder's layers.

    As official, the loss is summed (not averaged) over the batch; the
    published fine-tuning results were obtained this way.
    """
    # the heads and losses run in float32 under mixed precision
    sequence = tf.cast(
      self.electra(*encoder_inputs(features), training, taps), tf.float32
    )
    total, outputs = 0.0, {}
    for task_id, task in enumerate(self.tasks):
      losses, outputs[task.name] = task.head_outputs(
        self.heads[task.name], sequence, features, training
      )
      in_task = tf.cast(tf.equal(features["task_id"], task_id), tf.float32)
      total += tf.reduce_sum(losses * in_task)
    return total, outputs

  def official_variables(self):
    return modeling.variables_by_name(self)
