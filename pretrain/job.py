"""The model, optimizer and checkpoints of one pretraining run."""

import numpy as np
import tensorflow as tf

from interop import checkpoints
from interop import loading
from interop import sources
from model import optimization
from model import tokenization
from pretrain import pretrain_helpers
from pretrain import pretraining_model
from training import checkpointing
from util import logs


def load_special_ids(config):
  """Reads the vocab, checks it against the config, returns `SpecialIds`."""
  vocab = tokenization.load_vocab(config.vocab_file)
  tokenization.check_special_tokens(vocab, config.vocab_file)
  if len(vocab) > config.vocab_size:
    raise ValueError(
      f"vocab_file {config.vocab_file} has {len(vocab)} tokens but hparam "
      f"'vocab_size' is {config.vocab_size}; set vocab_size to {len(vocab)}"
    )
  return pretrain_helpers.special_ids_from_vocab(vocab)


class PretrainingJob:
  """The model, optimizer and checkpoints of one run, under one strategy.

  Args:
    config: the `PretrainingConfig`.
    strategy: the `tf.distribute` strategy.
    special_ids: the vocabulary's `SpecialIds` (never masked).
    with_word_ids: whether the batches carry word ids (word-based masking;
      see `pretrain_data.check_input_files`).
  """

  def __init__(self, config, strategy, special_ids, with_word_ids=False):
    self.config = config
    self.strategy = strategy
    self.with_word_ids = with_word_ids
    with strategy.scope():
      self.model = pretraining_model.PretrainingModel(config, special_ids)
      self.optimizer = optimization.create_optimizer(
        self.model.trainable_variables,
        config.learning_rate,
        config.num_train_steps,
        weight_decay_rate=config.weight_decay_rate,
        warmup_steps=config.num_warmup_steps,
        lr_decay_power=config.lr_decay_power,
        dynamic_loss_scale=config.mixed_precision == "mixed_float16",
        lr_step_offset=int(config.official_step_quirks),
        fused_kernels=config.fused_kernels,
      )
      # the data order's seed: kept in the checkpoint, so that a resumed
      # run can skip exactly the examples already consumed
      seed = (
        config.seed
        if config.seed is not None
        else int(np.random.SeedSequence().entropy % (2**31))
      )
      self.data_seed = tf.Variable(
        seed, dtype=tf.int64, trainable=False, name="data_seed"
      )
    checkpoint = checkpoints.make_checkpoint(
      self.model.official_variables(), self.optimizer, data_seed=self.data_seed
    )
    self.checkpointer = checkpointing.Checkpointer(
      checkpoint, config.model_dir, strategy, config.keep_checkpoint_max
    )
    self.chief = self.checkpointer.chief

  @property
  def step(self):
    return int(self.optimizer.global_step.numpy())

  def restore(self):
    """Restores the newest checkpoint of model_dir; returns its path or None.

    With no checkpoint there yet, ``init_checkpoint`` (ours, an official
    TF1 one, a transformers directory, or a discriminator/generator dict)
    initialises the model by variable name, and the Adam slots when it has
    them; the step starts at 0.
    """
    latest = self.checkpointer.restore_latest()
    if not latest and self.config.init_checkpoint:
      self._init_from(self.config.init_checkpoint)
    return latest

  def _init_from(self, spec):
    source = sources.open_source(spec)
    report = loading.init_from_checkpoint(
      self.model.official_variables(), source
    )
    if not report.loaded:
      raise ValueError(
        f"init_checkpoint {report.path} shares no variable name with the model"
      )
    logs.log(report.summary())
    slots = loading.init_optimizer_slots(self.optimizer, source)
    logs.log(
      f"  optimizer: {slots} Adam slots loaded"
      if slots
      else "  optimizer: no Adam slots in the checkpoint; starting fresh"
    )

  def save(self):
    return self.checkpointer.save(self.step)
