"""Hyperparameters for pretraining ELECTRA: the official names and defaults.

Edit the defaults below, or pass ``--hparams '{"name": value}'`` (or a path to
a JSON file such as ``configs/electra_tiny_zh.json``) to ``run_pretraining.py``.
"""

import os

from interop import model_record
from interop import sources
from util import hparams as hparams_lib

# `python run_pretraining.py` with no arguments pretrains on the bundled demo:
# point these at your own data (or pass --data-dir/--model-name) to move on.
PROJECT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(PROJECT_DIR, "demo")
DEFAULT_MODEL_NAME = "electra_demo"
DEFAULT_HPARAMS = os.path.join(PROJECT_DIR, "configs", "demo.json")

DISTRIBUTION_STRATEGIES = (
  "auto",
  "one_device",
  "mirrored",
  "multi_worker_mirrored",
  "tpu",
)
MASKING_CHOICES = ("token", "whole_word", "span")


class PretrainingConfig(hparams_lib.HParams):
  """Defines pretraining hyperparameters (official names and defaults)."""

  # types of hyperparameters whose default is None
  DECLARED_TYPES = {
    "keep_checkpoint_max": int,
    "mixed_precision": str,
    "max_predictions_per_seq": int,
  }

  RENAMED = {"official_masking_quirks": "average_duplicate_samples"}

  def __init__(self, model_name, data_dir, **kwargs):
    kwargs = self.renamed(kwargs)
    self.model_name = model_name
    self._official_defaults()
    self._toolkit_defaults()
    self._locations(data_dir, model_name)
    self._seal()
    # an init_checkpoint describes the model's shape itself (transformers'
    # config.json, our model.json)
    spec = kwargs.get("init_checkpoint")
    kwargs = dict(sources.hparams_from_checkpoint(spec, kwargs), **kwargs)
    # update defaults with passed-in hyperparameters
    self.update(kwargs)
    self.max_predictions_per_seq = int(
      (self.mask_prob + 0.005) * self.max_seq_length
    )
    self._derived_defaults()
    # passed-in arguments override (for example) debug-mode defaults
    self.update(kwargs)
    if "max_predictions_per_seq" not in kwargs:
      self.max_predictions_per_seq = int(
        (self.mask_prob + 0.005) * self.max_seq_length
      )
    self.validate()

  def _official_defaults(self):
    self.debug = False  # debug mode for quickly running things
    self.do_train = True  # pre-train ELECTRA
    self.do_eval = False  # evaluate generator/discriminator on unlabeled data

    # loss functions: ELECTRA, Electric, or (both false) a BERT-style masked LM
    self.electra_objective = True
    self.electric_objective = False
    self.gen_weight = 1.0  # masked language modeling / generator loss
    self.disc_weight = 50.0  # discriminator loss
    self.mask_prob = 0.15  # percent of input tokens to mask out / replace

    # optimization
    self.learning_rate = 5e-4
    self.lr_decay_power = 1.0  # linear decay by default
    self.weight_decay_rate = 0.01
    self.num_warmup_steps = 10000

    # training settings
    self.iterations_per_loop = 200
    self.save_checkpoints_steps = 1000
    self.num_train_steps = 1000000
    self.num_eval_steps = 100
    self.keep_checkpoint_max = 5  # 0 or None keeps all checkpoints

    # model settings
    self._model_defaults()

    # generator settings
    self.uniform_generator = False  # generator is uniform at random
    self.two_tower_generator = False  # generator is a two-tower cloze model
    self.untied_generator_embeddings = False  # untie generator/discriminator
    # token embeddings?
    self.untied_generator = True  # untie the other generator weights?
    self.generator_layers = 1.0  # frac of discriminator layers for generator
    self.generator_hidden_size = 0.25  # frac of discrim hidden size for gen
    self.disallow_correct = False  # force the generator to sample incorrect
    # tokens (so 15% of tokens are always fake)
    self.temperature = 1.0  # temperature for sampling from generator

    # batch sizes
    self.max_seq_length = 128
    self.train_batch_size = 128
    self.eval_batch_size = 128

    # TPU settings
    self._tpu_defaults()

  def _toolkit_defaults(self):
    """Settings of this TF2 toolkit (not in the official code)."""
    # "auto": TPU if tpu_name is set, MirroredStrategy on several GPUs, else
    # one device; or name one of DISTRIBUTION_STRATEGIES
    self.distribution_strategy = "auto"
    self.mixed_precision = None  # None, "mixed_bfloat16" or "mixed_float16"
    self.jit_compile = False  # compile the train/eval steps with XLA
    self.gradient_accumulation_steps = 1  # micro-batches per optimizer step
    self.seed = None  # global random seed (None: nondeterministic)
    self.log_every = 100  # steps between progress lines
    # continue pretraining from this checkpoint when model_dir has none: ours
    # or an official TF1 one (a directory, its 'checkpoint' file or a
    # prefix), a transformers ELECTRA directory (its config.json gives the
    # shape hparams you do not set), or {"discriminator": path, "generator":
    # path} to take the two from different places
    self.init_checkpoint = None
    # a masked position drawn twice gets the (floor) average of its two
    # sampled replacement ids, as in the official code, which trained the
    # published models this way (docs/official_comparison.md); false
    # writes one sample
    self.average_duplicate_samples = True
    # the official TF1 update step: the learning rate read one step ahead,
    # lr(t + 1), and the clipping norm taken over the IndexedSlices values
    # of the embedding gradients (repeated rows unsummed)
    self.official_step_quirks = False
    # which tokens are masked: "token" (the official per-token masking),
    # "whole_word" or "span" (SpanBERT's spans of words), both of which
    # mask whole words given by the records' word ids (see
    # build_pretraining_dataset.py --word-segmentation); span masking of
    # records without word ids takes spans of tokens
    self.masking = "token"

  def _locations(self, data_dir, model_name):
    """Default locations of data files."""
    self.pretrain_tfrecords = os.path.join(
      data_dir, "pretrain_tfrecords/pretrain_data.tfrecord*"
    )
    self.vocab_file = os.path.join(data_dir, "vocab.txt")
    self.model_dir = os.path.join(data_dir, "models", model_name)
    results_dir = os.path.join(self.model_dir, "results")
    self.results_txt = os.path.join(results_dir, "unsup_results.txt")
    self.results_json = os.path.join(results_dir, "unsup_results.json")
    self.max_predictions_per_seq = None  # derived from mask_prob

  def _derived_defaults(self):
    """Defaults that depend on other hyperparameters (official)."""
    # debug-mode settings
    if self.debug:
      self.train_batch_size = 8
      self.num_train_steps = 20
      self.eval_batch_size = 4
      self.iterations_per_loop = 1
      self.num_eval_steps = 2

    # defaults for the different model sizes (see Table 6 of the paper for
    # the larger models; the presets in configs/ carry those values)
    if self.model_size == "small":
      self.embedding_size = 128
    if self.electric_objective:
      self.two_tower_generator = True  # Electric needs a two-tower generator

  def validate(self):
    """Rejects impossible combinations before any work starts."""
    if not 0.0 < self.mask_prob < 1.0:
      raise ValueError(
        f"hparam 'mask_prob' must be in (0, 1), got {self.mask_prob}"
      )
    hparams_lib.check_choice(
      self, "distribution_strategy", DISTRIBUTION_STRATEGIES
    )
    hparams_lib.check_choice(self, "masking", MASKING_CHOICES)
    hparams_lib.check_choice(
      self, "mixed_precision", hparams_lib.MIXED_PRECISION_POLICIES
    )
    hparams_lib.check_fused_kernels(self.fused_kernels)
    hparams_lib.check_at_least_one(
      self,
      (
        "train_batch_size",
        "eval_batch_size",
        "max_seq_length",
        "num_train_steps",
        "gradient_accumulation_steps",
        "vocab_size",
        "log_every",
        "save_checkpoints_steps",
      ),
    )
    if isinstance(self.init_checkpoint, (str, dict)) and self.init_checkpoint:
      model_record.check(
        sources.model_path(self.init_checkpoint), self,
        "hparam 'init_checkpoint'",
      )  # fmt: skip
    max_positions = self.model_hparam_overrides.get(
      "max_position_embeddings", 512
    )
    if self.max_seq_length > max_positions:
      raise ValueError(
        f"hparam 'max_seq_length' ({self.max_seq_length}) is above the "
        f"model's max_position_embeddings ({max_positions})"
      )
    if self.temperature <= 0:
      raise ValueError(
        f"hparam 'temperature' must be > 0, got {self.temperature}"
      )
