"""Pretraining and evaluation under a `tf.distribute` strategy, resumable.

`train_or_eval(config)` is what ``run_pretraining.py`` runs: it builds the
model and the official optimizer under the configured strategy, restores the
newest checkpoint in ``model_dir`` (model, optimizer slots and step), trains
to ``num_train_steps`` saving every ``save_checkpoints_steps``, and/or
evaluates ``num_eval_steps`` batches into ``results/unsup_results.{txt,json}``.
"""

import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

from model import checkpoints
from model import optimization
from model import tokenization
from pretrain import metrics
from pretrain import pretrain_data
from pretrain import pretrain_helpers
from pretrain import pretraining_model
from pretrain import training
from util import distribution
from util import training_utils
from util import utils

SUM = tf.distribute.ReduceOp.SUM


def load_special_ids(config):
  """Reads the vocab, checks it against the config, returns `SpecialIds`."""
  vocab = tokenization.load_vocab(config.vocab_file)
  tokenization.check_special_tokens(vocab, config.vocab_file)
  if len(vocab) > config.vocab_size:
    raise ValueError(
        f"vocab_file {config.vocab_file} has {len(vocab)} tokens but hparam "
        f"'vocab_size' is {config.vocab_size}; set vocab_size to {len(vocab)}")
  return pretrain_helpers.special_ids_from_vocab(vocab)


class PretrainingSession:
  """The model, optimizer and checkpoints of one run, under one strategy."""

  def __init__(self, config, strategy, special_ids):
    self.config = config
    self.strategy = strategy
    self.chief = distribution.is_chief(strategy)
    with strategy.scope():
      self.model = pretraining_model.PretrainingModel(config, special_ids)
      self.optimizer = optimization.create_optimizer(
          self.model.trainable_variables, config.learning_rate,
          config.num_train_steps, weight_decay_rate=config.weight_decay_rate,
          warmup_steps=config.num_warmup_steps,
          lr_decay_power=config.lr_decay_power,
          dynamic_loss_scale=config.mixed_precision == "mixed_float16")
      # the data order's seed: kept in the checkpoint, so that a resumed
      # run can skip exactly the examples already consumed
      seed = (config.seed if config.seed is not None else
              int(np.random.SeedSequence().entropy % (2 ** 31)))
      self.data_seed = tf.Variable(seed, dtype=tf.int64, trainable=False,
                                   name="data_seed")
    self.checkpoint = checkpoints.make_checkpoint(
        self.model.official_variables(), self.optimizer,
        data_seed=self.data_seed)
    self._checkpoint_dir = (config.model_dir if self.chief else
                            tempfile.mkdtemp(prefix="electra-worker-ckpt-"))
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self._checkpoint_dir,
        max_to_keep=config.keep_checkpoint_max or None,
        checkpoint_name="model.ckpt")

  @property
  def step(self):
    return int(self.optimizer.global_step.numpy())

  def restore(self):
    """Restores the newest checkpoint of model_dir; returns its path or None.

    With no checkpoint there yet, ``init_checkpoint`` (ours or an official
    TF1 one) initialises the model by variable name, and the Adam slots when
    it has them; the step starts at 0.
    """
    latest = tf.train.latest_checkpoint(self.config.model_dir)
    if latest:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    elif self.config.init_checkpoint:
      self._init_from(self.config.init_checkpoint)
    return latest

  def _init_from(self, path):
    report = checkpoints.init_from_checkpoint(
        self.model.official_variables(), path)
    if not report.loaded:
      raise ValueError(f"init_checkpoint {report.path} shares no variable "
                       f"name with the model")
    utils.log(report.summary())
    slots = checkpoints.init_optimizer_slots(self.optimizer, report.path)
    utils.log(f"  optimizer: {slots} Adam slots loaded" if slots else
              "  optimizer: no Adam slots in the checkpoint; starting fresh")

  def save(self):
    path = self.manager.save(checkpoint_number=self.step)
    if not self.chief:
      shutil.rmtree(self._checkpoint_dir, ignore_errors=True)
      os.makedirs(self._checkpoint_dir, exist_ok=True)
    return path


def make_train_loop(session):
  """The pretraining loop: ``n`` steps per call on a distributed iterator."""
  config = session.config
  replica_step = training.train_step_fn(
      session.model, session.optimizer, config.gradient_accumulation_steps,
      config.jit_compile)
  names = list(session.model.loss_terms_names()) + ["loss"]
  return training.make_train_loop(session.strategy, replica_step,
                                  session.optimizer, names)


def make_eval_step(session):
  """A `tf.function` returning summed metric statistics of one batch."""
  model, strategy = session.model, session.strategy

  def batch_statistics(features, denominators):
    outputs = model(features, training=False)
    return metrics.eval_statistics(
        model, outputs, model.total_loss(outputs, denominators))

  if session.config.jit_compile:
    batch_statistics = tf.function(batch_statistics, jit_compile=True,
                                   autograph=False)

  @tf.autograph.experimental.do_not_convert
  def replica_eval(features):
    # global-batch denominators first (from the inputs), so the forward pass
    # can be compiled with XLA away from the cross-replica sum
    local = model.loss_denominators(features)
    sums = tf.distribute.get_replica_context().all_reduce(
        SUM, list(local.values()))
    return batch_statistics(features, dict(zip(local, sums)))

  @tf.function(autograph=False)
  def eval_step(iterator):
    stats = strategy.run(replica_eval, args=(next(iterator),))
    return {k: strategy.reduce(SUM, v, axis=None) for k, v in stats.items()}

  return eval_step


class ProgressLogger:
  """The official ETA hook's line, plus TensorBoard scalars."""

  def __init__(self, total_steps, start_step, writer=None):
    self.total_steps = total_steps
    self.start_step = start_step
    self.start_time = time.time()
    self.writer = writer

  def log(self, step, report):
    elapsed = time.time() - self.start_time
    per_step = elapsed / max(1, step - self.start_step)
    msg = (f"{step}/{self.total_steps} = "
           f"{100.0 * step / self.total_steps:.1f}%, SPS: {1 / per_step:.1f}, "
           f"ELAP: {training_utils.secs_to_str(elapsed)}, ETA: "
           f"{training_utils.secs_to_str((self.total_steps - step) * per_step)}")
    for name, value in report.items():
      msg += f" - {name}: {float(value):.4f}"
    utils.log(msg)
    if self.writer is not None:
      with self.writer.as_default(step=step):
        for name, value in report.items():
          tf.summary.scalar(f"train/{name}", float(value))
        tf.summary.scalar("train/steps_per_second", 1 / per_step)


def train(session, files):
  """Trains from the session's step to num_train_steps, checkpointing."""
  config = session.config
  start = session.step
  if start >= config.num_train_steps:
    utils.log(f"Training already reached step {start} of "
              f"{config.num_train_steps}; nothing to do.")
    return
  dataset = pretrain_data.distributed_dataset(
      session.strategy, files, config.train_batch_size, config.max_seq_length,
      is_training=True, seed=int(session.data_seed.numpy()), steps_done=start)
  iterator = iter(dataset)
  if start:
    utils.log(f"Skipping the {start * config.train_batch_size} examples "
              f"consumed by steps 1-{start}")
  train_steps = make_train_loop(session)
  writer = (tf.summary.create_file_writer(config.model_dir)
            if session.chief else None)
  progress = ProgressLogger(config.num_train_steps, start, writer)
  step = start
  while step < config.num_train_steps:
    n = _steps_until_event(step, config)
    report = run_steps(train_steps, iterator, n, files, config, session)
    check_finite(session, step, report)
    step = session.step
    report = {k: v for k, v in report.items()
              if k in session.model.loss_terms_names() or
              k in ("loss", "learning_rate")}
    if step % config.log_every == 0 or step == config.num_train_steps:
      progress.log(step, report)
    if step % config.save_checkpoints_steps == 0:
      session.save()
  if step % config.save_checkpoints_steps:
    session.save()
  if writer is not None:
    writer.flush()


class WorkerLostError(RuntimeError):
  """Another worker of a multi-worker run went away."""


def run_steps(train_steps, iterator, n, files, config, session=None):
  """``n`` steps; data errors found only while reading name their cause,
  and a lost worker ends the run with a message saying how to resume."""
  try:
    return train_steps(iterator, tf.constant(n))
  except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as e:
    latest = session.manager.latest_checkpoint if session else None
    raise WorkerLostError(
        f"Lost contact with another worker ({e.message.splitlines()[0]}). "
        f"The run stopped; the last checkpoint is {latest}. Restart every "
        f"worker with the same command to resume from it.") from e
  except tf.errors.DataLossError as e:
    message = pretrain_data.find_corrupt_file(files) or e.message
    raise pretrain_data.InputDataError(message) from e
  except tf.errors.InvalidArgumentError as e:
    if "not in [0," in e.message:
      raise pretrain_data.InputDataError(
          f"a token id in {config.pretrain_tfrecords} is outside the "
          f"vocabulary (vocab_size {config.vocab_size}): {e.message}") from e
    raise


def check_finite(session, step_before, report):
  """Stops on a non-finite loss or gradient, naming the step and the terms.

  The bad update was not applied and nothing is saved after the last good
  checkpoint. With float16 loss scaling, skipped steps are part of the
  method (the scale adapts) and only counted.
  """
  skipped = int(report["skipped"])
  if not skipped:
    return
  if session.optimizer.loss_scale is not None:
    utils.log(f"  {skipped} step(s) skipped for non-finite float16 gradients; "
            f"loss scale now {float(session.optimizer.loss_scale):g}")
    return
  at = step_before + int(report["bad_index"]) + 1
  terms = ", ".join(f"{name} = {float(report['bad_' + name]):.4g}"
                    for name in list(session.model.loss_terms_names()) +
                    ["loss"])
  raise FloatingPointError(
      f"Non-finite loss or gradients at step {at} ({terms}); training "
      f"stopped without applying that update. The last good checkpoint "
      f"{session.manager.latest_checkpoint} is kept and nothing was saved "
      f"after it; lower learning_rate or check the data.")


def _steps_until_event(step, config):
  """Steps to run before the next log, checkpoint, loop end or the last step."""
  candidates = [config.num_train_steps - step]
  for every in (config.log_every, config.save_checkpoints_steps,
                config.iterations_per_loop):
    if every and every > 0:
      candidates.append(every - step % every)
  return max(1, min(candidates))


def evaluate(session, files):
  """Evaluates num_eval_steps batches; writes and returns the metrics."""
  config = session.config
  dataset = pretrain_data.distributed_dataset(
      session.strategy, files, config.eval_batch_size, config.max_seq_length,
      is_training=False, seed=config.seed)
  iterator = iter(dataset)
  eval_step = make_eval_step(session)
  accumulator = metrics.MetricsAccumulator()
  for _ in range(config.num_eval_steps):
    accumulator.update({k: v.numpy() for k, v in eval_step(iterator).items()})
  results = accumulator.result()
  results["global_step"] = session.step
  if session.chief:
    write_results(config, results)
  return results


def write_results(config, results):
  """Writes the eval metrics as text and JSON (atomically), and TensorBoard."""
  lines = [f"{k} = {v}" for k, v in sorted(results.items())]
  utils.atomic_write_text("\n".join(lines) + "\n", config.results_txt)
  utils.atomic_write_json(results, config.results_json)
  writer = tf.summary.create_file_writer(os.path.join(config.model_dir,
                                                      "eval"))
  with writer.as_default(step=results["global_step"]):
    for name, value in results.items():
      if name != "global_step":
        tf.summary.scalar(f"eval/{name}", value)
  writer.flush()
  for line in lines:
    utils.log("  " + line)


def train_or_eval(config):
  """Runs pretraining and/or evaluation as ``config`` says.

  Returns:
    The eval metrics dict when ``do_eval``, else None.
  """
  if not (config.do_train or config.do_eval):
    raise ValueError("At least one of hparams 'do_train' and 'do_eval' must "
                     "be true")
  # the strategy first: multi-worker collectives must be configured before
  # TensorFlow runs any op
  strategy = distribution.get_strategy(config)
  files = pretrain_data.list_input_files(config.pretrain_tfrecords)
  pretrain_data.check_input_files(files, config.max_seq_length,
                                  config.vocab_size)
  special_ids = load_special_ids(config)
  if config.seed is not None:
    tf.random.set_seed(config.seed)
  distribution.check_batch_divisible(config, strategy)
  utils.check_writable_dir(config.model_dir, "model_dir")
  session = PretrainingSession(config, strategy, special_ids)
  utils.heading("Config:")
  utils.log_config(config)
  if session.chief:
    utils.atomic_write_json(config.to_dict(),
                            os.path.join(config.model_dir, "config.json"))
  restored = session.restore()
  if restored:
    utils.log(f"Restored {restored} (step {session.step})")
  if config.do_train:
    utils.heading("Running training")
    train(session, files)
  if config.do_eval:
    utils.heading("Running evaluation")
    return evaluate(session, files)
  return None
