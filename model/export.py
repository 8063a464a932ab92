"""SavedModel export of a pretrained or fine-tuned ELECTRA.

The model is rebuilt from pretraining hparams, initialised by name from a
checkpoint (ours or TF1), and exported with the signatures its checkpoint
supports: ``encoder`` always; ``discriminator`` and ``generator`` when the
pretraining heads are present; ``classify`` (ids) and ``classify_text``
(raw strings, tokenized in the graph with tensorflow-text) for each
fine-tuned classification head found under ``task_specific/<task>/dense``.
Batch size and sequence length are dynamic.
"""

import re

import tensorflow as tf

import configure_pretraining
from finetune import classification
from model import checkpoints
from model import fast_tokenization
from model import modeling
from pretrain import pretrain_helpers
from pretrain import pretraining_model

_HEAD = re.compile(r"^task_specific/([^/]+)/dense/kernel$")


def _ids_spec(name):
  return tf.TensorSpec([None, None], tf.int32, name=name)


class ExportModule(tf.Module):
  """The model plus its serving functions."""

  def __init__(self, hparams, checkpoint, vocab_file=None, max_seq_length=128):
    super().__init__(name=None)
    config = configure_pretraining.PretrainingConfig("export", "/unused",
                                                     **hparams)
    self.model = pretraining_model.PretrainingModel(config)
    available = checkpoints.checkpoint_variables(
        checkpoints.resolve_checkpoint_path(checkpoint))
    self.heads = {}
    for name, (_, shape) in sorted(available.items()):
      match = _HEAD.match(name)
      if match:
        self.heads[match.group(1)] = classification.ClassificationHead(
            f"task_specific/{match.group(1)}", shape[0], shape[1])
    variables = dict(self.model.official_variables())
    for head in self.heads.values():
      variables.update(modeling.variables_by_name(head))
    self.report = checkpoints.init_from_checkpoint(variables, checkpoint)
    self.has_generator = (self.model.generator_head is not None and
                          "generator_predictions/output_bias" in available)
    self.has_discriminator = (self.model.discriminator_head is not None and
                              "discriminator_predictions/dense/kernel" in
                              available)
    self.max_seq_length = max_seq_length
    self.tokenizer = (fast_tokenization.FastTokenizer(
        vocab_file, config.do_lower_case) if vocab_file and self.heads
                      else None)

  def encode(self, input_ids, input_mask, segment_ids):
    return self.model.electra(input_ids, input_mask, segment_ids, False)

  def discriminate(self, input_ids, input_mask, segment_ids):
    return self.model.discriminator_head(
        self.encode(input_ids, input_mask, segment_ids))

  def generate(self, input_ids, input_mask, segment_ids, masked_lm_positions):
    generator = self.model.generator
    sequence = generator(input_ids, input_mask, segment_ids, False)
    reprs = pretrain_helpers.gather_positions(sequence, masked_lm_positions)
    return self.model.generator_head(reprs, generator.embedding_table)

  def classify(self, task, input_ids, input_mask, segment_ids):
    return self.heads[task](self.encode(input_ids, input_mask, segment_ids),
                            False)

  def pack_text(self, texts):
    """[B] strings -> [CLS] tokens [SEP] ids, mask and segments [B, L]."""
    ids = self.tokenizer.tokenize_tensor(texts)[:, :self.max_seq_length - 2]
    vocab = self.tokenizer.vocab
    batch = tf.shape(texts)[:1]
    cls = tf.fill(tf.concat([batch, [1]], 0), vocab["[CLS]"])
    sep = tf.fill(tf.concat([batch, [1]], 0), vocab["[SEP]"])
    ids = tf.concat([tf.RaggedTensor.from_tensor(cls), ids,
                     tf.RaggedTensor.from_tensor(sep)], axis=1)
    input_ids = ids.to_tensor(0)
    input_mask = tf.ones_like(ids).to_tensor(0)
    return input_ids, input_mask, tf.zeros_like(input_ids)

  def signatures(self):
    """{signature name: concrete function}."""
    ids = [_ids_spec("input_ids"), _ids_spec("input_mask"),
           _ids_spec("segment_ids")]
    sigs = {"encoder": tf.function(
        lambda a, b, c: {"sequence_output": self.encode(a, b, c)}
    ).get_concrete_function(*ids)}
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


def export(hparams, checkpoint, output_dir, vocab_file=None,
           max_seq_length=128):
  """Writes the SavedModel; returns (signature names, load report)."""
  module = ExportModule(hparams, checkpoint, vocab_file, max_seq_length)
  signatures = module.signatures()
  tf.saved_model.save(module, output_dir, signatures=signatures)
  return sorted(signatures), module.report
