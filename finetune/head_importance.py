"""How much a fine-tuned model's task loss leans on each attention head and
FFN neuron: Michel et al.'s importance, from the gradients of the output
kernels (see `interop.structure_pruning`)."""

import numpy as np
import tensorflow as tf

from finetune import finetuning_model
from finetune import task_builder
from interop import loading
from interop import structure_pruning
from model import tokenizers
from util import logs


def batches_of(features, batch_size):
  """Feature dicts, stacked ``batch_size`` at a time: {name: [batch, ...]}
  with ``task_id`` 0 (one task)."""
  for start in range(0, len(features), batch_size):
    chunk = features[start : start + batch_size]
    batch = {k: np.array([f[k] for f in chunk]) for k in chunk[0]}
    batch["task_id"] = np.zeros([len(chunk)], np.int32)
    yield batch


def output_kernels(model):
  """[(attention output kernel, FFN output kernel)] of each layer: the
  variables whose rows carry each head's and each neuron's output."""
  variables = model.official_variables()
  kernels = []
  for layer in range(model.bert_config.num_hidden_layers):
    scopes = structure_pruning.layer_scopes(layer)
    kernels.append(
      (
        variables[f"{scopes['attention_output']}/kernel"],
        variables[f"{scopes['output']}/kernel"],
      )
    )
  return kernels


def importance(config, checkpoint, task_name, max_examples=2048):
  """Head and neuron importance of a fine-tuned checkpoint on (up to
  ``max_examples`` of) its task's training examples.

  Args:
    config: a `FinetuningConfig` of the checkpoint's shape and task, its
      ``data_dir`` holding the task's data.
    checkpoint: the fine-tuned checkpoint (encoder and task head).
    task_name: the task whose loss is differentiated.
    max_examples: the first this many training examples are used.

  Returns:
    (heads [layers, heads], neurons [layers, ffn]) float64 arrays.
  """
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, config.do_lower_case)
  task = task_builder.get_task(config, task_name)
  model = finetuning_model.FinetuningModel(config, [task])
  report = loading.init_from_checkpoint(model.official_variables(), checkpoint)
  if report.missing:
    raise ValueError(
      f"--checkpoint {checkpoint} lacks {report.missing[0]}: head importance "
      f"needs the fine-tuned {task_name} model (encoder and task head)"
    )
  features = task.featurize(
    task.split_examples("train")[:max_examples], tokenizer
  )
  if not features:
    raise ValueError(f"task {task_name} has no training examples")
  kernels = output_kernels(model)
  values = [(a.numpy(), f.numpy()) for a, f in kernels]  # read once

  @tf.function(reduce_retracing=True)
  def gradients(batch):
    with tf.GradientTape() as tape:
      loss, _ = model(batch, False)
    return tape.gradient(loss, kernels)

  bert = model.bert_config
  heads = np.zeros([bert.num_hidden_layers, bert.num_attention_heads])
  neurons = np.zeros([bert.num_hidden_layers, bert.intermediate_size])
  for batch in batches_of(features, config.train_batch_size):
    found = gradients({k: tf.constant(v) for k, v in batch.items()})
    for layer, ((attention, ffn), (d_attention, d_ffn)) in enumerate(
      zip(values, found)
    ):
      heads[layer] += structure_pruning.head_scores(
        attention, d_attention.numpy(), bert.num_attention_heads
      )
      neurons[layer] += structure_pruning.neuron_scores(ffn, d_ffn.numpy())
  logs.log(
    f"Importance of {bert.num_hidden_layers} x {bert.num_attention_heads} "
    f"heads and {bert.intermediate_size} FFN neurons per layer from "
    f"{len(features)} {task_name} training features"
  )
  return heads, neurons
