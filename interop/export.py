"""SavedModel export of a built, initialised ELECTRA.

`ExportModule` wraps a model (a `PretrainingModel`-like object with
``electra`` and optionally the generator and discriminator heads) and its
fine-tuned task heads, and offers the signatures it supports: ``encoder``
always; ``discriminator`` and ``generator`` when those heads are given;
for each classification or regression head ``classify`` (ids) and
``classify_text`` (raw strings, tokenized in the graph with
tensorflow-text), a regression head adding ``score`` (the value on the
label's own scale); for each tagging head ``tag`` (ids and mask: the
segment ids the task was trained with are set inside). Batch size and
sequence length are dynamic. Building the model from hparams and a
checkpoint is the caller's job (``export_savedmodel.py``); `export` also
writes ``serving.json``, which names every signature's inputs and outputs
and each task's kind and label list (output i means label i).
"""

import json
import os

import tensorflow as tf

from model import packing


def _ids_spec(name):
  return tf.TensorSpec([None, None], tf.int32, name=name)


class ExportModule(tf.Module):
  """The model plus its serving functions."""

  def __init__(
    self,
    model,
    heads=None,
    tokenizer=None,
    max_seq_length=128,
    with_generator=True,
    with_discriminator=True,
  ):
    """
    Args:
      model: the built model; ``model.electra(ids, mask, segments,
        training)`` gives [batch, seq_len, hidden], and
        ``generator``/``generator_head``/``discriminator_head`` are used
        when present and asked for.
      heads: {task: (head, spec)}: the head maps [batch, seq_len, hidden]
        (and ``training``) to logits [batch, labels] (or [batch, seq_len,
        tags] for tagging); the spec is a `HeadSpec`-like object (``kind``,
        ``labels``, ``value_scale``, ``value_shift``, ``segment_id``; see
        finetune/head_specs.py).
      tokenizer: a `FastTokenizer` for the ``classify_text`` signatures.
      max_seq_length: the longest packed text of ``classify_text``.
      with_generator, with_discriminator: export those heads (when the
        checkpoint had them).
    """
    super().__init__(name=None)
    self.model = model
    self.heads = {task: head for task, (head, _) in (heads or {}).items()}
    self.specs = {task: spec for task, (_, spec) in (heads or {}).items()}
    self.tokenizer = tokenizer if self.heads else None
    self.max_seq_length = max_seq_length
    self.has_generator = (
      with_generator and getattr(model, "generator_head", None) is not None
    )
    self.has_discriminator = (
      with_discriminator
      and getattr(model, "discriminator_head", None) is not None
    )

  def encode(self, input_ids, input_mask, segment_ids):
    return self.model.electra(input_ids, input_mask, segment_ids, False)

  def discriminate(self, input_ids, input_mask, segment_ids):
    return self.model.discriminator_head(
      self.encode(input_ids, input_mask, segment_ids)
    )

  def generate(self, input_ids, input_mask, segment_ids, masked_lm_positions):
    generator = self.model.generator
    sequence = generator(input_ids, input_mask, segment_ids, False)
    reprs = tf.gather(sequence, masked_lm_positions, batch_dims=1)
    return self.model.generator_head(reprs, generator.embedding_table)

  def classify(self, task, input_ids, input_mask, segment_ids):
    """{"logits": [batch, labels]} of a sentence (pair) head; a regression
    head adds "score" [batch], the value on the label's own scale."""
    logits = self.heads[task](
      self.encode(input_ids, input_mask, segment_ids), False
    )
    outputs = {"logits": logits}
    spec = self.specs[task]
    if spec.kind == "regression":
      outputs["score"] = logits[:, 0] * spec.value_scale + spec.value_shift
    return outputs

  def tag(self, task, input_ids, input_mask):
    """{"logits": [batch, seq_len, tags]} of a tagging head, with the
    constant segment id the task was trained with on every real token."""
    segment_ids = input_mask * self.specs[task].segment_id
    sequence = self.encode(input_ids, input_mask, segment_ids)
    return {"logits": self.heads[task](sequence, False)}

  def pack_text(self, texts):
    """[B] strings -> [CLS] tokens [SEP] ids, mask and segments [B, L]."""
    vocab = self.tokenizer.vocab
    return packing.pack_ragged(
      self.tokenizer.tokenize_tensor(texts),
      vocab["[CLS]"],
      vocab["[SEP]"],
      self.max_seq_length,
    )

  def signatures(self):
    """{signature name: concrete function}."""
    ids = [
      _ids_spec("input_ids"),
      _ids_spec("input_mask"),
      _ids_spec("segment_ids"),
    ]
    sigs = {
      "encoder": tf.function(
        lambda a, b, c: {"sequence_output": self.encode(a, b, c)}
      ).get_concrete_function(*ids)
    }
    if self.has_discriminator:
      sigs["discriminator"] = tf.function(
        lambda a, b, c: {"logits": self.discriminate(a, b, c)}
      ).get_concrete_function(*ids)
    if self.has_generator:
      sigs["generator"] = tf.function(
        lambda a, b, c, d: {"logits": self.generate(a, b, c, d)}
      ).get_concrete_function(*ids, _ids_spec("masked_lm_positions"))
    for task in self.heads:
      suffix = "" if len(self.heads) == 1 else "_" + task
      sigs.update(self.task_signatures(task, suffix, ids))
    return sigs

  def task_signatures(self, task, suffix, ids):
    """{signature name: concrete function} of one task head."""
    if self.specs[task].kind == "tagging":
      return {
        "tag" + suffix: tf.function(
          lambda a, b: self.tag(task, a, b)
        ).get_concrete_function(*ids[:2])
      }
    sigs = {
      "classify" + suffix: tf.function(
        lambda a, b, c: self.classify(task, a, b, c)
      ).get_concrete_function(*ids)
    }
    if self.tokenizer is not None:
      sigs["classify_text" + suffix] = tf.function(
        lambda s: self.classify(task, *self.pack_text(s))
      ).get_concrete_function(tf.TensorSpec([None], tf.string, name="text"))
    return sigs

  def description(self, signatures):
    """The contents of ``serving.json``."""
    return {
      "signatures": {
        name: describe_signature(function)
        for name, function in sorted(signatures.items())
      },
      "tasks": {
        task: {"type": spec.kind, "labels": list(spec.labels)}
        for task, spec in self.specs.items()
      },
      "max_seq_length": self.max_seq_length,
    }


def _tensor_fields(spec):
  return {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}


def describe_signature(function):
  """{"inputs": {name: {dtype, shape}}, "outputs": ...} of a concrete
  function."""
  inputs = function.structured_input_signature[1] or {
    spec.name: spec for spec in function.structured_input_signature[0]
  }
  return {
    "inputs": {name: _tensor_fields(s) for name, s in sorted(inputs.items())},
    "outputs": {
      name: _tensor_fields(s)
      for name, s in sorted(function.structured_outputs.items())
    },
  }


def export(module, output_dir):
  """Writes ``module`` as a SavedModel with ``serving.json`` beside it;
  returns its signature names."""
  signatures = module.signatures()
  tf.saved_model.save(module, output_dir, signatures=signatures)
  path = os.path.join(output_dir, "serving.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(module.description(signatures), f, indent=2, ensure_ascii=False)
  return sorted(signatures)
