"""One fine-tuning trial: initialise from a pretrained checkpoint, train with
layer-wise learning-rate decay, evaluate on dev, write test predictions."""

import json
import os

import numpy as np
import tensorflow as tf

from finetune import distill_matches
from finetune import finetuning_model
from finetune import head_specs
from finetune import task as task_lib
from finetune import teacher as teacher_lib
from finetune import trial_state
from interop import checkpoints
from interop import loading
from interop import model_record
from model import optimization
from training import checkpointing
from training import distribution
from training import loop
from training import progress
from training import step as step_lib
from util import files as files_lib
from util import logs


def trial_dir(config, trial):
  """Where trial ``trial`` keeps its state and checkpoints."""
  return f"{config.model_dir}_{trial}"


def num_train_steps(config, num_examples):
  """Optimizer steps of a run: whole batches per epoch (the training data
  is padded to a multiple of the batch, as official) times the epochs."""
  return int(num_examples // config.train_batch_size * config.num_train_epochs)


def init_encoder(config, model):
  """Loads the pretrained encoder (``electra/``); task heads stay fresh."""
  if not config.init_checkpoint:
    logs.log(
      "init_checkpoint is null: the encoder starts from random initialisation"
    )
    return None
  encoder = {
    name: var
    for name, var in model.official_variables().items()
    if name.startswith("electra/")
  }
  report = loading.init_from_checkpoint(encoder, config.init_checkpoint)
  if not report.loaded:
    raise ValueError(
      f"no variable of the encoder was found in checkpoint "
      f"{report.path}; is it an ELECTRA checkpoint?"
    )
  logs.log(report.summary())
  return report


def restore_finetuned(config, model):
  """Loads encoder and task heads from a fine-tuned init_checkpoint (runs
  without do_train evaluate and predict with it)."""
  if not config.init_checkpoint:
    raise ValueError(
      "hparam 'do_train' is false but 'init_checkpoint' is null: name the "
      "fine-tuned checkpoint to evaluate"
    )
  report = loading.init_from_checkpoint(
    model.official_variables(), config.init_checkpoint
  )
  heads = [
    n for n in report.missing if n.startswith(finetuning_model.HEAD_SCOPE)
  ]
  if heads or not report.loaded:
    raise ValueError(
      f"hparam 'do_train' is false, so init_checkpoint {report.path} must be "
      f"a fine-tuned checkpoint of {config.task_names}, but it lacks "
      f"{heads[0] if heads else 'the encoder'}"
    )
  logs.log(report.summary())
  return report


def pad_tokens(values, length, fill):
  """Pads axis 1 of ``values`` [batch, seq_len, ...] to ``length``."""
  missing = length - values.shape[1]
  if missing <= 0:
    return values
  widths = [(0, 0), (0, missing)] + [(0, 0)] * (values.ndim - 2)
  return np.pad(values, widths, constant_values=fill)


def _joined(name, parts):
  try:
    return np.concatenate(parts)
  except ValueError as error:
    raise ValueError(
      f"output {name!r} changes shape between batches ({error}); a task "
      "output shaped [batch, seq_len, ...] must be named in the task's "
      "token_outputs"
    ) from None


def _in_example_order(outputs):
  """Concatenates per-batch outputs and sorts them by example_index."""
  if not outputs:
    return {}
  joined = {k: _joined(k, v) for k, v in outputs.items()}
  order = np.argsort(joined.pop("example_index"), kind="stable")
  return {k: v[order] for k, v in joined.items()}


class Trial:
  """One training run of the tasks with one seed: its model, teachers,
  optimizer and checkpoints, complete when built.

  Args:
    config: the `FinetuningConfig`.
    tasks: the `Task`s trained jointly.
    preprocessor: the `Preprocessor` that makes their records.
    strategy: the `tf.distribute` strategy.
    trial: the trial's number (1, 2, ...): its seed offset and directory.
    total_steps: optimizer steps of the run (the learning-rate schedule).
    weights: where the weights come from: "pretrained" (the encoder of
      init_checkpoint, fresh task heads; training), "finetuned" (a
      fine-tuned init_checkpoint, heads included; evaluation only) or
      "trained" (this trial's own final checkpoint, a trial finished
      earlier).
  """

  def __init__(
    self, config, tasks, preprocessor, strategy, trial, total_steps=1,
    weights="pretrained",
  ):  # fmt: skip
    self.config, self.tasks = config, tasks
    self.preprocessor, self.strategy = preprocessor, strategy
    self.trial = trial
    self._examples = {}
    self._predict_steps = {}
    self.model_dir = trial_dir(config, trial)
    tf.random.set_seed(config.seed + trial)
    self.teachers = None
    with strategy.scope():
      self.model = finetuning_model.FinetuningModel(config, tasks)
      if weights == "pretrained" and config.teacher_checkpoints():
        self.teachers = teacher_lib.Teachers(config, tasks)
      self.optimizer = optimization.create_optimizer(
        self.trainable_variables(),
        config.learning_rate,
        max(1, total_steps),
        weight_decay_rate=config.weight_decay_rate,
        warmup_proportion=config.warmup_proportion,
        layerwise_lr_decay_power=config.layerwise_lr_decay,
        n_transformer_layers=self.model.bert_config.num_hidden_layers,
        head_scope=(
          finetuning_model.HEAD_SCOPE,
          distill_matches.PROJECTION_SCOPE,
        ),
        dynamic_loss_scale=config.mixed_precision == "mixed_float16",
        fused_kernels=config.fused_kernels,
      )
    extra = {}
    if self.teachers is not None and self.teachers.projections.kernels:
      extra["distillation"] = self.teachers.projections.by_name()
    self.checkpoint = checkpoints.make_checkpoint(
      self.model.official_variables(), self.optimizer, **extra
    )
    # periodic and end-of-epoch checkpoints, to resume an interrupted trial
    self.steps_dir = os.path.join(self.model_dir, model_record.STEP_CHECKPOINTS)
    self.checkpointer = checkpointing.Checkpointer(
      self.checkpoint, self.steps_dir, strategy, max_to_keep=2
    )
    if weights == "pretrained":
      init_encoder(config, self.model)
    elif weights == "finetuned":
      restore_finetuned(config, self.model)
    elif weights != "trained":
      raise ValueError(
        f"weights must be 'pretrained', 'finetuned' or 'trained', "
        f"got {weights!r}"
      )
    else:
      variables = self.model.official_variables()
      logs.log(
        loading.init_from_checkpoint(variables, self.model_dir).summary()
      )

  def trainable_variables(self):
    """The student's variables, and the projections of its matches."""
    variables = list(self.model.trainable_variables)
    if self.teachers is not None:
      variables += list(self.teachers.projections.trainable_variables)
    return variables

  def _predict_batch(self, features):
    _, outputs = self.model(features, training=False)
    return outputs, features["task_id"]

  def _predict_step(self, element_spec):
    """The prediction of a batch, traced once for batches of
    ``element_spec`` (whatever their batch size and length)."""
    key = tuple(sorted(element_spec.items()))
    if key not in self._predict_steps:
      self._predict_steps[key] = tf.function(
        self._predict_batch, autograph=False, input_signature=[element_spec]
      )
    return self._predict_steps[key]

  @property
  def step(self):
    return int(self.optimizer.global_step.numpy())

  def resume(self):
    """Restores the newest readable step checkpoint; returns its step."""
    self.checkpointer.restore_latest()
    return self.step

  def save_progress(self, tracker):
    """The trial's state, then its checkpoint (so a resumed trial never
    lacks the evaluations its checkpoint has passed)."""
    trial_state.save(self.model_dir, tracker, self.step)
    self.checkpointer.save(self.step)

  def _loss_fn(self, features, _):
    """(summed loss, {"mean_loss"}) of a training batch; with teachers,
    the distillation loss joins the task loss."""
    if self.teachers is None:
      total, outputs = self.model(features, training=True)
    else:
      taps = self.teachers.layer_taps()
      total, outputs = self.model(features, training=True, taps=taps)
      total = self.teachers.combined(total, outputs, features, taps)
    return total, {"mean_loss": total / float(self.config.train_batch_size)}

  def _training_dataset(self, record_path):
    """Shuffled training batches; with cached teacher outputs (loaded
    here), each example carries its index."""
    config, with_index = self.config, False
    if self.teachers is not None:
      with self.strategy.scope():
        with_index = self.teachers.load_cache(
          config,
          lambda: self.preprocessor.dataset(
            record_path, config.eval_batch_size, False
          ),
          record_path,
        )
    return self.preprocessor.dataset(
      record_path,
      config.train_batch_size,
      True,
      config.seed + self.trial,
      with_index,
    )

  def train(self, record_path, num_examples, tracker, progress_logger=None):
    """Trains num_train_epochs from the current step, evaluating through
    ``tracker.on_epoch_end(trial, epoch, last)``; progress lines go to
    ``progress_logger`` (a `progress.ProgressLogger` by default)."""
    config = self.config
    steps_per_epoch = num_examples // config.train_batch_size
    total_steps = num_train_steps(config, num_examples)
    if total_steps < 1:
      raise ValueError(
        f"the training data ({num_examples} examples) is "
        f"smaller than train_batch_size "
        f"({config.train_batch_size})"
      )
    dataset = self._training_dataset(record_path)
    # a resumed trial skips the batches its steps consumed: the same order
    iterator = iter(
      distribution.distribute_dataset(self.strategy, dataset.skip(self.step))
    )
    replica_step = step_lib.make_replica_step(
      self._loss_fn,
      self.trainable_variables(),
      self.optimizer,
      jit_compile=config.jit_compile,
    )
    if self.teachers is not None:
      replica_step = self.teachers.with_outputs(replica_step)
    # a call of the compiled loop runs at most iterations_per_loop steps;
    # epochs end, and every save_checkpoints_steps a checkpoint is written
    events = (
      steps_per_epoch,
      config.iterations_per_loop,
      config.save_checkpoints_steps,
    )
    train_loop = loop.TrainLoop(
      self.strategy,
      replica_step,
      self.optimizer,
      loop.LoopSettings(total_steps, config.log_every, events, ["mean_loss"]),
    )

    def on_event(step):
      last = step == total_steps
      epoch_end = step % steps_per_epoch == 0 or last
      if epoch_end:
        tracker.on_epoch_end(self, round(step / steps_per_epoch, 2), last)
      if epoch_end or step % config.save_checkpoints_steps == 0:
        self.save_progress(tracker)

    train_loop.run(
      iterator,
      progress_logger or progress.ProgressLogger(total_steps, 0),
      on_event,
    )
    return total_steps

  def predict(self, record_path, batch_size=None):
    """{task name: {output name: array}} over a split (one pass), in the
    order of the examples; per-token outputs padded back to max_seq_length
    (batches may be cut shorter, see ``bucket_by_length``)."""
    dataset = self.preprocessor.dataset(
      record_path, batch_size or self.config.eval_batch_size, False
    )
    gathered = {t.name: {} for t in self.tasks}
    predict_step = self._predict_step(dataset.element_spec)
    for features in dataset:
      outputs, task_ids = predict_step(features)
      order, task_ids = features["example_index"].numpy(), task_ids.numpy()
      for task_id, task in enumerate(self.tasks):
        rows = task_ids == task_id
        batch_outputs = dict(outputs[task.name], example_index=order)
        for key, value in batch_outputs.items():
          value = np.asarray(value)[rows]
          if key in task.token_outputs:
            value = pad_tokens(
              value, self.config.max_seq_length, task.token_outputs[key]
            )
          gathered[task.name].setdefault(key, []).append(value)
    return {task: _in_example_order(outs) for task, outs in gathered.items()}

  def evaluate(self, split="dev"):
    """{task: metrics} of a split; each task's predictions go to
    ``<task>_<split>_predictions.json`` beside the results (in its
    submission format, which ``score_predictions.py`` scores)."""
    results = {}
    directory = os.path.dirname(self.config.results_txt)
    for task in self.tasks:
      record_path, _ = self.preprocessor.prepare([task], split, False)
      examples = self.examples(task, split)
      scorer = task.get_scorer(examples, self.preprocessor.tokenizer)
      outputs = self.predict(record_path)[task.name]
      scorer.update(outputs)
      results[task.name] = scorer.get_results()
      logs.log(
        f"{task.name} {split}: "
        + " - ".join(f"{k}: {v:.2f}" for k, v in results[task.name].items())
      )
      if task.submission_file is not None:
        self.write_predictions(
          task,
          examples,
          outputs,
          os.path.join(directory, f"{task.name}_{split}_predictions.json"),
        )
      for name, data in scorer.output_files().items():
        files_lib.atomic_write_json(
          data, os.path.join(directory, f"{task.name}_{split}_{name}.json")
        )
    return results

  def examples(self, task, split):
    """The examples of a task's split, read once per trial."""
    key = (task.name, split)
    if key not in self._examples:
      self._examples[key] = task.split_examples(split)
    return self._examples[key]

  def save(self, subdir=None):
    """Writes the model and optimizer, with a 'checkpoint' state file so
    the directory itself names the checkpoint to any loader, and
    ``tasks.json`` saying what each task head's outputs mean."""
    directory = os.path.join(self.model_dir, subdir or "")
    path = self.checkpoint.write(os.path.join(directory, "model.ckpt"))
    checkpoints.write_state_file(directory, os.path.basename(path))
    head_specs.write_descriptions(directory, self.tasks)
    model_record.write(directory, self.config, "run_finetuning.py")
    return path

  def write_predictions(self, task, examples, outputs, path):
    """Writes a task's predictions in its submission format; returns how
    many predictions the file holds."""
    lines = task.submission_lines(
      examples, outputs, self.preprocessor.tokenizer
    )
    task_lib.check_distinct_ids(task, lines)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    files_lib.atomic_write_text(text + "\n", path)
    return task.prediction_count(lines)

  def write_test_predictions(self):
    """CLUE submission files: one {"id", "label"} JSON object per line."""
    out_dir = os.path.join(
      self.config.test_predictions_dir, f"trial_{self.trial}"
    )
    for task in self.tasks:
      if task.submission_file is None:
        continue
      record_path, _ = self.preprocessor.prepare([task], "test", False)
      outputs = self.predict(record_path, self.config.predict_batch_size)
      path = os.path.join(out_dir, task.submission_file)
      count = self.write_predictions(
        task, self.examples(task, "test"), outputs[task.name], path
      )
      logs.log(f"Wrote {count} test predictions to {path}")
