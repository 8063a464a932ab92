"""ELECTRA pretraining: generator + discriminator with online masking.

The three official objectives are supported:
  * ELECTRA (default): a small masked-LM generator fills the masked positions,
    the discriminator detects replaced tokens; total = gen_weight * MLM loss +
    disc_weight * detection loss.
  * masked LM only (``electra_objective`` false): BERT with dynamic masking.
  * Electric (``electric_objective``): a two-tower cloze generator and a
    noise-contrastive discriminator whose logits are corrected by log q.
"""

import collections
import math

import tensorflow as tf

from model import model_sizes
from model import modeling
from pretrain import heads
from pretrain import pretrain_data
from pretrain import pretrain_helpers
from pretrain import word_masking

PretrainingOutputs = collections.namedtuple(
  "PretrainingOutputs",
  ["inputs", "mlm", "cloze", "disc", "sampled_ids", "fake_inputs"],
)


def roll(sequence, shift):
  """Rotates [B, L, D] along L: shift -1 moves position i+1 to i."""
  return tf.concat([sequence[:, shift:], sequence[:, :shift]], axis=1)


class PretrainingModel(tf.Module):
  """Generator, discriminator and heads, named as the official variables.

  Args:
    config: a `PretrainingConfig`.
    special_ids: the `SpecialIds` of the vocabulary (never masked).
  """

  def __init__(self, config, special_ids=pretrain_helpers.BERT_SPECIAL_IDS):
    super().__init__(name=None)
    self.config = config
    self.special_ids = special_ids
    self.bert_config = model_sizes.get_bert_config(config)
    self.embedding_size = config.embedding_size or self.bert_config.hidden_size
    self.has_discriminator = (
      config.electra_objective or config.electric_objective
    )
    self.compute_dtype = modeling.COMPUTE_DTYPES[config.mixed_precision]
    encoder_options = dict(
      compute_dtype=self.compute_dtype, fused_kernels=config.fused_kernels
    )
    # The "electra" encoder owns electra/embeddings; it is the discriminator,
    # and also the generator when generator and discriminator are tied.
    self.electra = modeling.BertModel(
      self.bert_config,
      "electra",
      self.embedding_size,
      **encoder_options,
    )
    self.generator = None
    self.generator_ltr = self.generator_rtl = None
    self.generator_head = self.cloze_head = None
    self._build_generator(encoder_options)
    self.discriminator_head = (
      heads.DiscriminatorHead(self.bert_config)
      if self.has_discriminator
      else None
    )

  def _build_generator(self, encoder_options):
    config = self.config
    vocab_size = self.bert_config.vocab_size
    if config.uniform_generator:
      return
    if not (self.has_discriminator and config.untied_generator):
      # full-size generator tied to the discriminator (or BERT's MLM model)
      self.generator = self.electra
      self.generator_head = heads.TokenLogitsHead(
        "generator_predictions",
        self.bert_config.hidden_size,
        self.embedding_size,
        vocab_size,
        self.bert_config,
      )
      return
    gen_config = model_sizes.get_generator_config(config, self.bert_config)
    untied = config.untied_generator_embeddings
    shared = None if untied else self.electra.embeddings
    embedding_size = None if untied else self.embedding_size
    if config.two_tower_generator:
      self.generator_ltr = modeling.BertModel(
        gen_config,
        "generator_ltr",
        embedding_size,
        shared,
        ltr=True,
        **encoder_options,
      )
      self.generator_rtl = modeling.BertModel(
        gen_config,
        "generator_rtl",
        embedding_size,
        shared,
        rtl=True,
        **encoder_options,
      )
      table_width = self.generator_ltr.embeddings.embedding_size
      self.cloze_head = heads.TokenLogitsHead(
        "cloze_predictions",
        2 * gen_config.hidden_size,
        table_width,
        vocab_size,
        self.bert_config,
      )
    else:
      self.generator = modeling.BertModel(
        gen_config,
        "generator",
        embedding_size,
        shared,
        **encoder_options,
      )
      self.generator_head = heads.TokenLogitsHead(
        "generator_predictions",
        gen_config.hidden_size,
        self.generator.embeddings.embedding_size,
        vocab_size,
        self.bert_config,
      )

  def _mask(self, unmasked, word_ids):
    """The masked batch: the official per-token masking, or with
    ``masking`` "whole_word" or "span" the `word_masking` options."""
    config = self.config
    if config.masking == "token":
      return pretrain_helpers.mask(
        unmasked,
        config.mask_prob,
        config.max_predictions_per_seq,
        self.special_ids,
      )
    return word_masking.mask_words(
      unmasked,
      word_ids,
      config.masking,
      config.mask_prob,
      config.max_predictions_per_seq,
      self.special_ids,
    )

  def __call__(self, features, training):
    """Masks the batch, runs the generator and the discriminator.

    Args:
      features: dict of int32 [B, L] input_ids, input_mask, segment_ids
        (and word_ids for whole-word and span masking).
      training: enables dropout.

    Returns:
      `PretrainingOutputs`; `loss` makes the objective of them.
    """
    config = self.config
    # the heads take the compiled kernels where the encoders do
    fused = self.electra.uses_fused_kernels(features["input_ids"])
    unmasked = pretrain_data.features_to_inputs(features)
    masked = self._mask(unmasked, features.get(pretrain_data.WORD_IDS))
    cloze = None
    if config.uniform_generator:
      shape = tf.concat(
        [tf.shape(masked.masked_lm_ids), [self.bert_config.vocab_size]], 0
      )
      mlm_logits = tf.zeros(shape)
    elif self.cloze_head is not None:
      cloze = self._cloze_output(unmasked, training, fused)
      mlm_logits = pretrain_helpers.gather_positions(
        cloze.logits, masked.masked_lm_positions
      )
    else:
      sequence = self.generator(
        masked.input_ids, masked.input_mask, masked.segment_ids, training
      )
      reprs = pretrain_helpers.gather_positions(
        sequence, masked.masked_lm_positions
      )
      mlm_logits = self.generator_head(
        reprs, self.generator.embedding_table, fused
      )
    mlm = heads.generator_loss(
      mlm_logits, masked.masked_lm_ids, masked.masked_lm_weights
    )
    if not self.has_discriminator:
      return PretrainingOutputs(masked, mlm, cloze, None, None, None)
    fake_inputs, labels, sampled_ids = self._fake_data(masked, mlm_logits)
    sequence = self.electra(
      fake_inputs.input_ids,
      fake_inputs.input_mask,
      fake_inputs.segment_ids,
      training,
    )
    logits = self.discriminator_head(sequence, fused)
    if config.electric_objective:
      logits += self._electric_log_q(cloze.logits, fake_inputs.input_ids)
    disc = heads.discriminator_loss(logits, labels, fake_inputs.input_mask)
    return PretrainingOutputs(
      masked, mlm, cloze, disc, sampled_ids, fake_inputs
    )

  def _cloze_output(self, inputs, training, fused):
    """Electric's two-tower cloze model at every position: logits [B, L, V]."""
    args = (inputs.input_ids, inputs.input_mask, inputs.segment_ids, training)
    ltr = self.generator_ltr(*args)
    rtl = self.generator_rtl(*args)
    reprs = tf.concat([roll(ltr, -1), roll(rtl, 1)], -1)
    logits = self.cloze_head(reprs, self.generator_ltr.embedding_table, fused)
    weights = tf.cast(
      pretrain_helpers.get_candidates_mask(
        inputs.input_ids, inputs.input_mask, self.special_ids
      ),
      tf.float32,
    )
    return heads.generator_loss(logits, inputs.input_ids, weights)

  def _electric_log_q(self, cloze_logits, input_ids):
    """log q(token) under the cloze model plus log(p / (1 - p)), no gradient."""
    log_q = tf.gather(tf.nn.log_softmax(cloze_logits), input_ids, batch_dims=2)
    prob = self.config.mask_prob
    return tf.stop_gradient(log_q) + math.log(prob / (1 - prob))

  def _fake_data(self, masked, mlm_logits):
    """Samples replacements from the generator; returns inputs and labels."""
    inputs = pretrain_helpers.unmask(masked)
    disallow = None
    if self.config.disallow_correct:
      disallow = tf.one_hot(inputs.masked_lm_ids, self.bert_config.vocab_size)
    sampled_ids = tf.stop_gradient(
      pretrain_helpers.sample_from_softmax(
        mlm_logits, self.config.temperature, disallow
      )
    )
    updated_ids, updated = pretrain_helpers.scatter_update(
      inputs.input_ids,
      tf.cast(sampled_ids, inputs.input_ids.dtype),
      inputs.masked_lm_positions,
      average_duplicates=self.config.average_duplicate_samples,
    )
    if self.config.electric_objective:
      labels = updated
    else:
      # a sampled token equal to the original counts as real
      labels = updated * tf.cast(
        tf.not_equal(updated_ids, inputs.input_ids), tf.int32
      )
    fake = pretrain_data.get_updated_inputs(inputs, input_ids=updated_ids)
    return fake, labels, sampled_ids

  def loss(self, outputs, denominators):
    """The pretraining objective (the official ``total_loss``):

      total = gen_weight * gen + disc_weight * disc

    where ``gen`` is the generator's masked-LM loss (the cloze loss of a
    two-tower generator) and ``disc`` the discriminator's replaced-token
    loss, each a sum over tokens divided by its denominator + 1e-6.

    Args:
      outputs: `PretrainingOutputs` of a batch.
      denominators: {term: tokens it is averaged over}, from
        `loss_denominators` (of the global batch, in a distributed step).

    Returns:
      (total, {"gen": loss, and "disc": loss with a discriminator}): what
      the step minimises, and the terms the metrics and logs show.
    """
    gen = outputs.cloze if outputs.cloze is not None else outputs.mlm
    terms = {"gen": gen.loss_sum / (denominators["gen"] + 1e-6)}
    total = self.config.gen_weight * terms["gen"]
    if outputs.disc is not None:
      terms["disc"] = outputs.disc.loss_sum / (denominators["disc"] + 1e-6)
      total += self.config.disc_weight * terms["disc"]
    return total, terms

  def loss_denominators(self, features):
    """The tokens each loss term averages over, from the inputs alone:
    the masked positions (every candidate position for a cloze
    generator) and the real tokens. Masking draws which positions, never
    how many, so a step can sum these over the global batch before any
    forward pass (gradient accumulation, XLA)."""
    input_ids, input_mask = features["input_ids"], features["input_mask"]
    candidates = pretrain_helpers.get_candidates_mask(
      input_ids, input_mask, self.special_ids
    )
    if self.cloze_head is not None:
      gen = tf.reduce_sum(tf.cast(candidates, tf.float32))
    else:
      gen = tf.reduce_sum(
        tf.cast(
          pretrain_helpers.prediction_weights(
            candidates,
            input_mask,
            self.config.mask_prob,
            self.config.max_predictions_per_seq,
          ),
          tf.float32,
        )
      )
    dens = {"gen": gen}
    if self.has_discriminator:
      dens["disc"] = tf.reduce_sum(tf.cast(input_mask, tf.float32))
    return dens

  def loss_terms_names(self):
    """Names of the loss terms: "gen", and "disc" with a discriminator."""
    return ("gen", "disc") if self.has_discriminator else ("gen",)

  def official_variables(self):
    """The model's variables by official TF1 name: {name: variable}."""
    return modeling.variables_by_name(self)
