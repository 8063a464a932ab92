"""Knowledge distillation in fine-tuning: fine-tuned teachers of the same
tasks, run in inference mode on each training batch, teach the student
through `distill_losses`.

A teacher is a `FinetuningModel` of the student's tasks with the shape of
``teacher_hparams`` (the student's by default), loaded with its encoder
and task heads from ``teacher_checkpoint``; several checkpoints form an
ensemble whose outputs are averaged. What each task kind learns from:
- classification, pairs, multiple choice: the logits (soft labels at the
  ``distillation.temperature``);
- tagging: each real token's logits;
- regression: the score (squared difference);
- span-extraction QA: the start and end distributions of training (a
  joint head's end given the gold start), the mean of their losses.
The student's loss is ``hard_label_weight`` x its task loss plus
``soft_label_weight`` x the distillation loss, plus the intermediate
matches (`distill_matches`) when ``distillation.matches`` names any.

Without matches, the teachers' outputs over the training set are computed
once and cached (`teacher_cache`) when ``distillation.cache_outputs`` is
true, or by default when the run reads its training set twice or more;
matches need the teachers' layers, which are computed with each batch.
"""

import os

import tensorflow as tf

from finetune import distill_losses
from finetune import distill_matches
from finetune import finetuning_model
from finetune import head_specs
from finetune import teacher_cache
from interop import loading
from interop import model_record
from model import model_sizes
from model import modeling

# what a teacher takes from the student's config, and the shape it takes
# when 'teacher_hparams' gives none
SHARED_HPARAMS = (
  "task_names", "custom_tasks", "tagging_scheme", "max_seq_length",
  "vocab_size", "do_lower_case", "mixed_precision",
)  # fmt: skip
SHAPE_HPARAMS = ("model_size", "model_hparam_overrides", "embedding_size")

# the output each kind of head is taught through
TAUGHT_OUTPUT = {
  "classification": "logits",
  "multiple_choice": "logits",
  "tagging": "logits",
  "regression": "predictions",
  "qa": "span_logits",
}


def teacher_config(config, checkpoint=None):
  """The config of the teacher model: the student's tasks and inputs, with
  ``teacher_hparams`` as its shape, else the shape ``checkpoint`` records
  (its model.json), else the student's. A ``teacher_hparams`` shape that
  contradicts the record is an error naming both."""
  hparams = {key: getattr(config, key) for key in SHARED_HPARAMS}
  recorded = model_record.recorded_hparams(checkpoint) if checkpoint else {}
  shape = config.teacher_hparams or {
    key: recorded.get(key, getattr(config, key)) for key in SHAPE_HPARAMS
  }
  teacher = type(config)("teacher", config.data_dir, **hparams, **shape)
  if checkpoint:
    check_vocabulary(config, checkpoint, recorded)
    model_record.check(checkpoint, teacher, "hparam 'teacher_checkpoint'")
  return teacher


def check_vocabulary(config, checkpoint, recorded):
  """A teacher reads the student's token ids: its recorded vocabulary must
  be the student's (a pruned student learns from a teacher pruned to the
  same vocabulary, which computes on the student's texts what it did)."""
  size = recorded.get("vocab_size")
  theirs = recorded.get("vocab_file")
  same_file = True
  if theirs and config.vocab_file and os.path.exists(config.vocab_file):
    with open(theirs, "rb") as a, open(config.vocab_file, "rb") as b:
      same_file = a.read() == b.read()
  if (size is not None and size != config.vocab_size) or not same_file:
    raise ValueError(
      f"hparam 'teacher_checkpoint' {checkpoint} was trained with another "
      f"vocabulary ({theirs or f'{size} tokens'}) than the student's "
      f"({config.vocab_file}, vocab_size {config.vocab_size}); prune the "
      f"teacher to the student's vocabulary first (prune_model.py "
      f"--vocab-from with the same files)"
    )


def check_kinds(tasks):
  """{task: kind}; a task this module cannot teach is an error."""
  kinds = {}
  for task in tasks:
    spec = head_specs.describe(task)
    kind = spec.kind if spec is not None else None
    if kind not in TAUGHT_OUTPUT:
      raise ValueError(
        f"hparam 'teacher_checkpoint': distillation teaches "
        f"{', '.join(sorted(TAUGHT_OUTPUT))} tasks; {task.name} is "
        f"{kind or 'another kind'}"
      )
    kinds[task.name] = kind
  return kinds


def check_labels(checkpoint, tasks):
  """The teacher's tasks.json (when it has one) must give each task the
  student's labels (and a regression task the student's value range)."""
  saved = head_specs.read_descriptions(checkpoint) or {}
  for task in tasks:
    spec, ours = saved.get(task.name), head_specs.describe(task)
    if spec is not None and list(spec.labels) != list(ours.labels):
      raise ValueError(
        f"teacher_checkpoint {checkpoint}: task {task.name} was trained with "
        f"labels {spec.labels[:6]}..., the student has {ours.labels[:6]}..."
      )
    # a regression output means value * scale + shift: the same only when
    # both normalised by the same range
    scale = lambda s: (float(s.value_scale), float(s.value_shift))
    if (
      spec is not None
      and spec.kind == "regression"
      and (scale(spec) != scale(ours))
    ):
      raise ValueError(
        f"teacher_checkpoint {checkpoint}: task {task.name} was trained on "
        f"values scaled by (max, min) {scale(spec)}, the student by "
        f"{scale(ours)}; give both the same min_value and max_value"
      )


def load_teacher(config, tasks, checkpoint):
  """A teacher model with every encoder and head variable loaded."""
  check_labels(checkpoint, tasks)
  model = finetuning_model.FinetuningModel(
    teacher_config(config, checkpoint), tasks
  )
  report = loading.init_from_checkpoint(model.official_variables(), checkpoint)
  if report.missing:
    raise ValueError(
      f"teacher_checkpoint {report.path} lacks {report.missing[0]} (and "
      f"{len(report.missing) - 1} more): a teacher must be fine-tuned on "
      f"{[t.name for t in tasks]} with the shape of 'teacher_hparams'"
    )
  return model


def caches_outputs(config, settings):
  """Whether to cache the teachers' outputs: as ``cache_outputs`` says,
  or when null, when the run reads its training set twice or more (the
  cache's one inference pass costs more than one epoch of computing the
  outputs with each batch, see docs/finetuning.md)."""
  if settings["cache_outputs"] is not None:
    return settings["cache_outputs"]
  return config.num_train_epochs * config.num_trials >= 2


class Teachers:
  """The teachers of a run and the distillation loss they give.

  Args:
    config: the student's `FinetuningConfig`.
    tasks: the student's tasks.
  """

  def __init__(self, config, tasks):
    self.tasks = tasks
    self.kinds = check_kinds(tasks)
    self.settings = config.distillation_settings()
    self.matches = self.settings["matches"]
    paths = config.teacher_checkpoints()
    if self.matches and len(paths) > 1:
      raise ValueError(
        "hparam 'distillation.matches' needs one teacher_checkpoint: the "
        "layers of an ensemble's models do not share a basis to average"
      )
    self.models = [load_teacher(config, tasks, path) for path in paths]
    student_shape = model_sizes.get_bert_config(config)
    teacher_shape = self.models[0].bert_config
    distill_matches.check_shapes(self.matches, student_shape, teacher_shape)
    self.projections = distill_matches.Projections(
      self.matches, student_shape.hidden_size, teacher_shape.hidden_size
    )
    self.caches = caches_outputs(config, self.settings) and not self.matches
    self.tables = None

  def taught_by(self, model, features, taps=None):
    """{task: the output a student learns from} of one model (a teacher,
    or a student to compare with them), without dropout; ``taps``
    collects its layers."""
    inputs = finetuning_model.encoder_inputs(features)
    sequence = tf.cast(model.electra(*inputs, False, taps), tf.float32)
    taught = {}
    for task in self.tasks:
      head, kind = model.heads[task.name], self.kinds[task.name]
      if kind == "qa":  # the span logits of training, without dropout
        taught[task.name] = task.distillation_logits(head, sequence, features)
      else:
        _, outputs = task.loss_and_outputs(head, sequence, features, False)
        taught[task.name] = outputs[TAUGHT_OUTPUT[kind]]
    return taught

  def outputs(self, features):
    """{task: taught output} averaged over the teachers."""
    runs = [self.taught_by(model, features) for model in self.models]
    return {
      task.name: sum(run[task.name] for run in runs) / float(len(runs))
      for task in self.tasks
    }

  def batch_features(self, features):
    """{``teacher/<task>``, and ``teacher/match_<k>`` with matches}: what
    the teachers give one training batch (from the cache when loaded)."""
    if self.tables is not None:
      taught = {
        name: teacher_cache.gathered(table, self.kinds[name], features)
        for name, table in self.tables.items()
      }
      return {f"teacher/{k}": v for k, v in taught.items()}
    taps = self.layer_taps()
    if taps is None:
      taught = self.outputs(features)
    else:
      taught = self.taught_by(self.models[0], features, taps)
    given = {f"teacher/{k}": v for k, v in taught.items()}
    if taps is not None:
      given.update(distill_matches.taught_features(self.matches, taps))
    return given

  def load_cache(self, config, dataset_fn, record_path):
    """Reads (or computes and writes) the teachers' outputs over the
    training records into variables, from which `batch_features` gathers;
    a no-op unless caching applies. Returns whether batches need their
    ``example_index``."""
    if not self.caches:
      return False
    arrays = teacher_cache.load_or_compute(
      self, config, dataset_fn, record_path
    )
    self.tables = {
      name: tf.Variable(array, trainable=False, name=f"teacher_{name}")
      for name, array in arrays.items()
    }
    return True

  def with_outputs(self, replica_step):
    """``replica_step`` fed `batch_features`: computed before the step's
    gradient tape, which then neither records the teachers' forward pass
    nor keeps its activations."""

    def step(features):
      return replica_step(dict(features, **self.batch_features(features)))

    return step

  def layer_taps(self):
    """A `modeling.LayerTaps` for a forward pass (the student's or the
    teacher's) when matches need its layers, else None."""
    return modeling.LayerTaps() if self.matches else None

  def loss(self, student_outputs, features, taught=None):
    """The distillation loss of a batch (summed over its examples);
    ``taught`` is {task: teacher output}, computed here when not given."""
    if taught is None:
      taught = self.outputs(features)
    total = 0.0
    for task_id, task in enumerate(self.tasks):
      kind = self.kinds[task.name]
      student = student_outputs[task.name][TAUGHT_OUTPUT[kind]]
      teacher = tf.stop_gradient(taught[task.name])
      in_task = tf.cast(tf.equal(features["task_id"], task_id), tf.float32)
      if kind == "regression":
        losses = distill_losses.score_loss(student, teacher, in_task)
      else:
        weights = in_task
        if kind == "tagging":
          weights = distill_losses.token_weights(
            features["input_mask"], in_task
          )
        elif kind == "qa":  # the mean of the start and end losses
          weights = tf.stack([in_task, in_task], 1) * 0.5
        losses = distill_losses.soft_label_loss(
          student, teacher, self.settings["temperature"], weights
        )
      total += tf.reduce_sum(losses)
    return total

  def match_token_weights(self, features):
    """[rows, seq_len]: the real tokens of examples of a task (a
    multiple-choice example's weight repeated over its options)."""
    mask = tf.cast(finetuning_model.encoder_inputs(features)[1], tf.float32)
    task_id = features["task_id"]
    in_a_task = tf.cast(
      (task_id >= 0) & (task_id < len(self.tasks)), tf.float32
    )
    rows_per_example = tf.shape(mask)[0] // tf.shape(task_id)[0]
    return mask * tf.repeat(in_a_task, rows_per_example)[:, tf.newaxis]

  def combined(self, hard_loss, student_outputs, features, taps=None):
    """hard_label_weight x the task loss + soft_label_weight x the
    distillation loss (the teachers' outputs in ``features``, see
    `with_outputs`) + the matches' losses (the student's layers in
    ``taps``)."""
    taught = {
      task.name: features[f"teacher/{task.name}"] for task in self.tasks
    }
    soft_loss = self.loss(student_outputs, features, taught)
    total = (
      self.settings["hard_label_weight"] * hard_loss
      + self.settings["soft_label_weight"] * soft_loss
    )
    if taps is not None:
      total += distill_matches.loss(
        self.matches, self.projections, taps, features,
        self.match_token_weights(features),
      )  # fmt: skip
    return total
