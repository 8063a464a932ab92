"""Pretraining and evaluation under a `tf.distribute` strategy, resumable.

`train_or_eval(config)` is what ``run_pretraining.py`` runs: it builds the
model and the official optimizer under the configured strategy, restores the
newest checkpoint in ``model_dir`` (model, optimizer slots and step), trains
to ``num_train_steps`` saving every ``save_checkpoints_steps``, and/or
evaluates ``num_eval_steps`` batches into ``results/unsup_results.{txt,json}``.
"""

import os

import tensorflow as tf

from interop import model_record
from pretrain import job as job_lib
from pretrain import metrics
from pretrain import pretrain_data
from pretrain import steps
from training import distribution
from training import loop
from training import progress as progress_lib
from util import files as files_lib
from util import logs


def data_error(files, config):
  """Turns a TensorFlow error met while reading into one naming the data."""

  def translate(error):
    if isinstance(error, tf.errors.DataLossError):
      return pretrain_data.InputDataError(
        pretrain_data.find_corrupt_file(files) or error.message
      )
    if (
      isinstance(error, tf.errors.InvalidArgumentError)
      and "not in [0," in error.message
    ):
      return pretrain_data.InputDataError(
        f"a token id in {config.pretrain_tfrecords} is outside the "
        f"vocabulary (vocab_size {config.vocab_size}): {error.message}"
      )
    return None

  return translate


def train(job, files):
  """Trains from the job's step to num_train_steps, checkpointing."""
  config = job.config
  start = job.step
  if start >= config.num_train_steps:
    logs.log(
      f"Training already reached step {start} of "
      f"{config.num_train_steps}; nothing to do."
    )
    return
  iterator = iter(
    pretrain_data.distributed_dataset(
      job.strategy,
      files,
      config.train_batch_size,
      config.max_seq_length,
      is_training=True,
      seed=int(job.data_seed.numpy()),
      steps_done=start,
      with_word_ids=job.with_word_ids,
    )
  )
  if start:
    logs.log(
      f"Skipping the {start * config.train_batch_size} examples "
      f"consumed by steps 1-{start}"
    )
  settings = loop.LoopSettings(
    total_steps=config.num_train_steps,
    log_every=config.log_every,
    event_every=(config.save_checkpoints_steps, config.iterations_per_loop),
    names=list(job.model.loss_terms_names()) + ["loss"],
  )
  train_loop = loop.TrainLoop(
    job.strategy,
    steps.make_pretraining_step(job.model, job.optimizer, config),
    job.optimizer,
    settings,
    lambda: job.checkpointer.latest,
    data_error(files, config),
  )
  writer = (
    tf.summary.create_file_writer(config.model_dir) if job.chief else None
  )

  def on_event(step):
    if (
      step % config.save_checkpoints_steps == 0
      or step == config.num_train_steps
    ):
      job.save()

  train_loop.run(
    iterator,
    progress_lib.ProgressLogger(config.num_train_steps, start, writer),
    on_event,
  )
  if writer is not None:
    writer.flush()


def evaluate(job, files, write=True):
  """Evaluates num_eval_steps batches; writes (when ``write``) and returns
  the metrics."""
  config = job.config
  dataset = pretrain_data.distributed_dataset(
    job.strategy,
    files,
    config.eval_batch_size,
    config.max_seq_length,
    is_training=False,
    seed=config.seed,
    with_word_ids=job.with_word_ids,
  )
  iterator = iter(dataset)
  eval_step = steps.make_eval_step(job.model, job.strategy, config.jit_compile)
  accumulator = metrics.MetricsAccumulator()
  for _ in range(config.num_eval_steps):
    accumulator.update({k: v.numpy() for k, v in eval_step(iterator).items()})
  results = accumulator.result()
  results["global_step"] = job.step
  if job.chief and write:
    write_results(config, results)
  return results


def write_results(config, results):
  """Writes the eval metrics as text and JSON (atomically), and TensorBoard."""
  lines = [f"{k} = {v}" for k, v in sorted(results.items())]
  files_lib.atomic_write_text("\n".join(lines) + "\n", config.results_txt)
  files_lib.atomic_write_json(results, config.results_json)
  writer = tf.summary.create_file_writer(os.path.join(config.model_dir, "eval"))
  with writer.as_default(step=results["global_step"]):
    for name, value in results.items():
      if name != "global_step":
        tf.summary.scalar(f"eval/{name}", value)
  writer.flush()
  for line in lines:
    logs.log("  " + line)


def train_or_eval(config):
  """Runs pretraining and/or evaluation as ``config`` says.

  Returns:
    The eval metrics dict when ``do_eval``, else None.
  """
  if not (config.do_train or config.do_eval):
    raise ValueError(
      "At least one of hparams 'do_train' and 'do_eval' must be true"
    )
  job, files = open_job(config)
  restored = job.restore()
  if restored:
    logs.log(f"Restored {restored} (step {job.step})")
  if config.do_train:
    logs.heading("Running training")
    train(job, files)
  if config.do_eval:
    logs.heading("Running evaluation")
    return evaluate(job, files)
  return None


def evaluate_checkpoints(config, prefixes):
  """The eval metrics of each checkpoint in turn (a learning curve).

  Args:
    config: the run's `PretrainingConfig` (its eval settings are used).
    prefixes: checkpoint prefixes of this model, e.g. model.ckpt-1000.
  Returns:
    [metrics dict with "global_step"] in the order given.
  """
  job, files = open_job(config)
  curve = []
  for prefix in prefixes:
    status = job.checkpointer.checkpoint.restore(prefix)
    status.assert_existing_objects_matched()
    curve.append(evaluate(job, files, write=False))
  return curve


def open_job(config):
  """The job of ``config`` (strategy, model, optimizer) and its data
  files, checked."""
  # the strategy first: multi-worker collectives must be configured before
  # TensorFlow runs any op
  strategy = distribution.get_strategy(config)
  files = pretrain_data.list_input_files(config.pretrain_tfrecords)
  with_word_ids = pretrain_data.check_input_files(
    files, config.max_seq_length, config.vocab_size, config.masking
  )
  if config.masking == "span" and not with_word_ids:
    logs.log("The records have no word ids: span masking takes token spans")
  special_ids = job_lib.load_special_ids(config)
  if config.seed is not None:
    tf.random.set_seed(config.seed)
  distribution.check_batch_divisible(config, strategy)
  files_lib.check_writable_dir(config.model_dir, "model_dir")
  job = job_lib.PretrainingJob(config, strategy, special_ids, with_word_ids)
  logs.heading("Config:")
  logs.log_config(config)
  if job.chief:
    files_lib.atomic_write_json(
      config.to_dict(), os.path.join(config.model_dir, "config.json")
    )
    model_record.write(config.model_dir, config, "run_pretraining.py")
  return job, files
