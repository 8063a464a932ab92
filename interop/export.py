"""SavedModel export of a built, initialised ELECTRA.

`ExportModule` wraps a model (a `PretrainingModel`-like object with
``electra`` and optionally the generator and discriminator heads) and its
classification heads, and offers the signatures it supports: ``encoder``
always; ``discriminator`` and ``generator`` when those heads are given;
``classify`` (ids) and ``classify_text`` (raw strings, tokenized in the
graph with tensorflow-text) for each classification head. Batch size and
sequence length are dynamic. Building the model from hparams and a
checkpoint is the caller's job (``export_savedmodel.py``).
"""

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
      heads: {task: head}, each mapping [batch, seq_len, hidden] (and
        ``training``) to logits [batch, labels].
      tokenizer: a `FastTokenizer` for the ``classify_text`` signatures.
      max_seq_length: the longest packed text of ``classify_text``.
      with_generator, with_discriminator: export those heads (when the
        checkpoint had them).
    """
    super().__init__(name=None)
    self.model = model
    self.heads = dict(heads or {})
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
    return self.heads[task](
      self.encode(input_ids, input_mask, segment_ids), False
    )

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
      sigs["classify" + suffix] = tf.function(
        lambda a, b, c, t=task: {"logits": self.classify(t, a, b, c)}
      ).get_concrete_function(*ids)
      if self.tokenizer is not None:
        sigs["classify_text" + suffix] = tf.function(
          lambda s, t=task: {"logits": self.classify(t, *self.pack_text(s))}
        ).get_concrete_function(tf.TensorSpec([None], tf.string, name="text"))
    return sigs


def export(module, output_dir):
  """Writes ``module`` as a SavedModel; returns its signature names."""
  signatures = module.signatures()
  tf.saved_model.save(module, output_dir, signatures=signatures)
  return sorted(signatures)
