"""Hyperparameters for fine-tuning ELECTRA: the official names and defaults.

Pass ``--hparams '{"task_names": ["tnews"]}'`` (or a JSON file such as
``configs/finetune_clue_tiny.json``) to ``run_finetuning.py``.
"""

import os

import tensorflow as tf

from finetune import distill_matches
from interop import model_record
from interop import sources
from util import hparams as hparams_lib


class FinetuningConfig(hparams_lib.HParams):
  """Fine-tuning hyperparameters (official names and defaults)."""

  DECLARED_TYPES = {
    "task_names": list,
    "custom_tasks": dict,
    "max_examples": dict,
    "num_train_epochs": float,
    "mixed_precision": str,
    "teacher_checkpoint": (str, list),
  }
  # the "distillation" settings and their defaults (TextBrewer's recipes
  # use temperature 8 and the soft labels alone); "matches" lists the
  # intermediate matches (see finetune/distill_matches.py); "cache_outputs"
  # None caches the teachers' outputs when the training set is read twice
  # or more (see finetune/teacher_cache.py)
  DISTILLATION_DEFAULTS = {
    "temperature": 8.0,
    "hard_label_weight": 0.0,
    "soft_label_weight": 1.0,
    "matches": [],
    "cache_outputs": None,
  }

  def __init__(self, model_name, data_dir, **kwargs):
    self.model_name = model_name
    self._official_defaults()
    self._toolkit_defaults()
    self._locations(
      data_dir, model_name, kwargs.get("task_names", self.task_names)
    )
    self._seal()
    # an init_checkpoint describes the model's shape itself (transformers'
    # config.json, our model.json); the packed length is the run's own
    # unless it only predicts with a fine-tuned checkpoint
    spec = kwargs.get("init_checkpoint", self.init_checkpoint)
    trains = kwargs.get("do_train", True)
    derived = sources.hparams_from_checkpoint(
      spec, kwargs, () if trains is False else ("max_seq_length",)
    )
    kwargs = dict(
      {k: v for k, v in derived.items() if k in self.__dict__}, **kwargs
    )
    self.update(kwargs)
    self._derived_defaults()
    # passed-in arguments override (for example) debug-mode defaults
    self.update(kwargs)
    self.validate()

  def _official_defaults(self):
    # general
    self.debug = False  # debug mode for quickly running things
    self.log_examples = False  # print out some train examples for debugging
    self.num_trials = 1  # how many train+eval runs to perform
    self.do_train = True  # train a model
    self.do_eval = True  # evaluate the model
    self.keep_all_models = True  # if False, only keep the last trial's ckpt

    # model
    self._model_defaults()
    # which tasks to learn (jointly); the official default "chunk" (English
    # chunking) is not a task here
    self.task_names = ["tnews"]

    # training
    self.learning_rate = 1e-4
    self.weight_decay_rate = 0.01
    self.layerwise_lr_decay = 0.8  # if > 0, layer l gets lr * decay^(depth(l)
    # - max depth): lower layers learn slower
    self.num_train_epochs = 3.0  # passes over the dataset during training
    self.warmup_proportion = 0.1  # how much of training to warm up the LR for
    self.save_checkpoints_steps = 1000000
    self.iterations_per_loop = 1000
    self.use_tfrecords_if_existing = True  # reuse cached preprocessed data

    # writing model outputs to disc
    self.write_test_outputs = False  # write CLUE submission files for test
    self.n_writes_test = 5  # write test set predictions for the first n trials

    # sizing
    self.max_seq_length = 128
    self.train_batch_size = 32
    self.eval_batch_size = 32
    self.predict_batch_size = 32
    # for symmetric pair tasks (AFQMC), also train on the swapped order;
    # off by default as in CLUE's reference processor (the GLUE tasks of the
    # official code set it to true)
    self.double_unordered = False
    # for qa tasks
    self.max_query_length = 64
    self.doc_stride = 128
    self.n_best_size = 20
    self.max_answer_length = 30
    self.answerable_classifier = True
    self.answerable_uses_start_logits = True
    self.answerable_weight = 0.5
    self.joint_prediction = True
    self.beam_size = 20
    self.qa_na_threshold = -2.75

    # TPU settings
    self._tpu_defaults()

  def _toolkit_defaults(self):
    """Settings of this TF2 toolkit (not in the official code)."""
    self.custom_tasks = {}  # your own tasks without code, see README
    # tag encoding of tagging tasks: "BIOES" (the official LABEL_ENCODING)
    # or "BIO"
    self.tagging_scheme = "BIOES"
    # QA data with unanswerable questions (SQuAD 2.0-style): the answerable
    # classifier's odds above qa_na_threshold then mean "no answer"; CMRC
    # 2018 and DRCD have none
    self.qa_has_unanswerable = False
    self.distribution_strategy = "auto"  # as in configure_pretraining.py
    self.seed = 0  # trial t uses seed + t
    self.log_every = 50  # steps between progress lines
    self.eval_every_epoch = True  # evaluate on dev after each epoch
    # cap the examples read per split, e.g. {"train": 3000, "dev": 1000}
    # (the first ones of each file; for budget runs)
    self.max_examples = {}
    self.keep_best_checkpoint = False  # keep the checkpoint of the best dev
    # score (first metric) of each trial
    # batches of similar length, each cut to its longest row rounded up to
    # bucket_multiple: same results, far less padding (off on TPUs, which
    # need one shape)
    self.bucket_by_length = True
    self.bucket_multiple = 8
    # None, "mixed_bfloat16" or "mixed_float16" (with dynamic loss scaling)
    self.mixed_precision = None
    # compile each training step with XLA: once per batch shape, so at most
    # max_seq_length / bucket_multiple times with bucket_by_length
    self.jit_compile = False
    # knowledge distillation: a fine-tuned teacher of the same tasks (ours,
    # official TF1 or transformers; a list averages several), its shape
    # when it is not the student's, and DISTILLATION_DEFAULTS overrides
    self.teacher_checkpoint = None
    self.teacher_hparams = {}
    self.distillation = {}

  def _locations(self, data_dir, model_name, task_names):
    """Default locations of data files."""
    self.data_dir = data_dir
    pretrained_dir = os.path.join(data_dir, "models", model_name)
    self.raw_data_dir = os.path.join(data_dir, "finetuning_data")
    self.vocab_file = os.path.join(pretrained_dir, "vocab.txt")
    if not tf.io.gfile.exists(self.vocab_file):
      self.vocab_file = os.path.join(data_dir, "vocab.txt")
    tasks_str = ",".join(task_names) if isinstance(task_names, list) else ""
    self.init_checkpoint = pretrained_dir
    self.model_dir = os.path.join(
      pretrained_dir, "finetuning_models", tasks_str + "_model"
    )
    results_dir = os.path.join(pretrained_dir, "results")
    self.results_txt = os.path.join(results_dir, tasks_str + "_results.txt")
    self.results_json = os.path.join(results_dir, tasks_str + "_results.json")
    self.preprocessed_data_dir = os.path.join(
      pretrained_dir, "finetuning_tfrecords", tasks_str + "_tfrecords"
    )
    self.test_predictions_dir = os.path.join(pretrained_dir, "test_predictions")

  def _derived_defaults(self):
    """Defaults that depend on other hyperparameters (official)."""
    # default hyperparameters for single-task models
    if len(self.task_names) == 1:
      name = self.task_names[0]
      if "squad" in name or "qa" in name or "cmrc" in name or name == "drcd":
        self.max_seq_length = 512
        self.num_train_epochs = 2.0
      elif name == "chunk":
        self.max_seq_length = 256
    # default hyperparameters for different model sizes
    if self.model_size == "large":
      self.learning_rate = 5e-5
      self.layerwise_lr_decay = 0.9
    elif self.model_size == "small":
      self.embedding_size = 128
    # debug-mode settings
    if self.debug:
      self.use_tfrecords_if_existing = False
      self.num_trials = 1
      self.iterations_per_loop = 1
      self.train_batch_size = 32
      self.num_train_epochs = 3.0
      self.log_examples = True
      self.preprocessed_data_dir += "-debug"

  def validate(self):
    if not self.task_names:
      raise ValueError("hparam 'task_names' must name at least one task")
    hparams_lib.check_at_least_one(
      self,
      (
        "train_batch_size",
        "eval_batch_size",
        "predict_batch_size",
        "max_seq_length",
        "num_trials",
        "log_every",
        "bucket_multiple",
      ),
    )
    hparams_lib.check_choice(
      self, "mixed_precision", hparams_lib.MIXED_PRECISION_POLICIES
    )
    hparams_lib.check_fused_kernels(self.fused_kernels)
    self._check_distillation()
    if isinstance(self.init_checkpoint, (str, dict)) and self.init_checkpoint:
      model_record.check(
        sources.model_path(self.init_checkpoint), self,
        "hparam 'init_checkpoint'",
      )  # fmt: skip
    if self.num_train_epochs <= 0:
      raise ValueError(
        f"hparam 'num_train_epochs' must be > 0, got {self.num_train_epochs}"
      )

  def _check_distillation(self):
    """Unknown keys and values out of range are errors naming them."""
    for key, value in self.distillation.items():
      if key not in self.DISTILLATION_DEFAULTS:
        raise ValueError(
          f"hparam 'distillation' has unknown key {key!r}; known keys are "
          f"{sorted(self.DISTILLATION_DEFAULTS)}"
        )
      if key == "matches":
        distill_matches.check_fields(value)
      elif key == "cache_outputs":
        if value is not None and not isinstance(value, bool):
          raise ValueError(
            "hparam 'distillation.cache_outputs' must be true, false or null"
          )
      elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"hparam 'distillation.{key}' must be a number")
    settings = self.distillation_settings()
    if settings["temperature"] <= 0:
      raise ValueError("hparam 'distillation.temperature' must be > 0")
    if min(settings["hard_label_weight"], settings["soft_label_weight"]) < 0:
      raise ValueError("hparam 'distillation' weights must be >= 0")

  def distillation_settings(self):
    """DISTILLATION_DEFAULTS with the hparam's overrides."""
    return dict(self.DISTILLATION_DEFAULTS, **self.distillation)

  def teacher_checkpoints(self):
    """The teacher checkpoints as a list (empty without distillation)."""
    spec = self.teacher_checkpoint
    if spec is None:
      return []
    return [spec] if isinstance(spec, str) else list(spec)
