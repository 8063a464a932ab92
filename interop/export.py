"""SavedModel export of a built, initialised ELECTRA.

`ExportModule` wraps a model (a `PretrainingModel`-like object with
``electra`` and optionally the generator and discriminator heads) and, for
a fine-tuned model, the serving functions of one task
(`text_serving.TaskServing`), and offers the signatures they support:
``encoder`` always; ``discriminator`` and ``generator`` when those heads
are given; the task's ids-in signature (``classify`` or ``tag``) and its
text-in ``serving_default`` (and ``classify_text`` for classifiers).
Batch size and sequence length are dynamic. Building the model from
hparams and a checkpoint is the caller's job (``export_savedmodel.py``);
`export` also writes ``serving.json``, which names every signature's
inputs and outputs and the task's kind and labels (output i means
label i).
"""

import json
import os

import tensorflow as tf


def _ids_spec(name):
  return tf.TensorSpec([None, None], tf.int32, name=name)


class ExportModule(tf.Module):
  """The model plus its serving functions."""

  def __init__(
    self,
    model,
    task=None,
    serving=None,
    with_generator=True,
    with_discriminator=True,
  ):
    """
    Args:
      model: the built model; ``model.electra(ids, mask, segments,
        training)`` gives [batch, seq_len, hidden], and
        ``generator``/``generator_head``/``discriminator_head`` are used
        when present and asked for.
      task: the name of the fine-tuned task served (or None).
      serving: its `text_serving.TaskServing` (or None).
      with_generator, with_discriminator: export those heads (when the
        checkpoint had them).
    """
    super().__init__(name=None)
    self.model = model
    self.task, self.serving = task, serving
    self.has_generator = (
      with_generator and getattr(model, "generator_head", None) is not None
    )
    self.has_discriminator = (
      with_discriminator
      and getattr(model, "discriminator_head", None) is not None
    )

  def encode(self, input_ids, input_mask, segment_ids):
    """[batch, seq_len, hidden] float32, whatever the compute dtype."""
    sequence = self.model.electra(input_ids, input_mask, segment_ids, False)
    return tf.cast(sequence, tf.float32)

  def discriminate(self, input_ids, input_mask, segment_ids):
    return self.model.discriminator_head(
      self.encode(input_ids, input_mask, segment_ids)
    )

  def generate(self, input_ids, input_mask, segment_ids, masked_lm_positions):
    generator = self.model.generator
    sequence = generator(input_ids, input_mask, segment_ids, False)
    reprs = tf.gather(sequence, masked_lm_positions, batch_dims=1)
    return self.model.generator_head(reprs, generator.embedding_table)

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
    if self.serving is not None:
      sigs.update(self.serving.signatures())
    return sigs

  def description(self, signatures):
    """The contents of ``serving.json``."""
    spec = self.serving.spec if self.serving is not None else None
    return {
      "signatures": {
        name: describe_signature(function)
        for name, function in sorted(signatures.items())
      },
      "task": self.task,
      "type": spec.kind if spec else None,
      "labels": list(spec.labels) if spec else None,
      "max_seq_length": self.serving.max_seq_length if spec else None,
      "compiled_lengths": self.serving.compiled_lengths if spec else None,
      "qa": spec.qa if spec else None,
      "cloze": spec.cloze if spec and spec.kind == "multiple_choice" else None,
    }


def _tensor_fields(spec):
  return {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}


def describe_signature(function):
  """{"inputs": {name: {dtype, shape}}, "outputs": ...} of a concrete
  function."""
  inputs = function.structured_input_signature[1] or {
    spec.name: spec
    for spec in function.structured_input_signature[0]
    if spec is not None
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
