"""Shared machinery for hyperparameter objects: strict updates and type checks.

The official configs reject an unknown hyperparameter; we do the same, name the
closest known one, and also reject a value of the wrong type.
"""

import difflib
import os

from util import files
from util import logs

# hyperparameters whose default is None, and the types they accept
_NUMBER = (int, float)


def load_hparams(hparams):
  """Parses ``--hparams``: a JSON dict, or a path to a ``.json`` file."""
  if isinstance(hparams, dict):
    return dict(hparams)
  text = hparams.strip()
  if text.endswith(".json") and not text.startswith("{"):
    if not os.path.exists(text):
      raise FileNotFoundError(f"--hparams file {text} does not exist")
    with open(text, "rb") as f:
      data = f.read()
    try:
      decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
      raise ValueError(
        f"--hparams file {text}: invalid UTF-8 at byte offset {e.start}"
      ) from None
    loaded = files.parse_json_object(decoded, f"--hparams file {text}")
  else:
    loaded = files.parse_json_object(
      text or "{}", "--hparams (neither a .json path nor a JSON dict)"
    )
  return loaded


def merge_hparams(sources):
  """Loads several --hparams (dicts, JSON or .json paths); later ones win."""
  merged = {}
  for source in sources:
    merged.update(load_hparams(source))
  return merged


class HParamTypeError(TypeError, ValueError):
  """A hyperparameter of the wrong type (a user error, like a bad value)."""


def _type_ok(value, expected):
  if value is None:
    return True
  if expected is float:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)
  if expected is int:
    return isinstance(value, int) and not isinstance(value, bool)
  return isinstance(value, expected)


def check_and_update(obj, kwargs, types):
  """Sets each hparam in ``kwargs`` on ``obj`` after checking name and type.

  Args:
    obj: the config object; its ``__dict__`` holds the known hyperparameters.
    kwargs: name -> value.
    types: name -> expected type (or tuple of types) for every hyperparameter.
  """
  for key, value in kwargs.items():
    if key not in obj.__dict__:
      close = difflib.get_close_matches(key[:100], list(obj.__dict__), n=1)
      hint = f"; did you mean {close[0]!r}?" if close else ""
      shown = key if len(key) <= 60 else key[:60] + "..."
      raise ValueError(f"Unknown hparam {shown!r}{hint}")
    expected = types.get(key)
    if expected is not None and not _type_ok(value, expected):
      names = (
        expected.__name__
        if isinstance(expected, type)
        else " or ".join(t.__name__ for t in expected)
      )
      raise HParamTypeError(
        f"hparam {key!r} must be {names}, got {type(value).__name__} {value!r}"
      )
    if expected is float and isinstance(value, int):
      value = float(value)
    obj.__dict__[key] = value


def check_at_least_one(obj, names):
  """Each named hparam of ``obj`` must be >= 1; the error names it."""
  for name in names:
    if getattr(obj, name) < 1:
      raise ValueError(
        f"hparam {name!r} must be at least 1, got {getattr(obj, name)}"
      )


MIXED_PRECISION_POLICIES = (None, "mixed_bfloat16", "mixed_float16")


def check_choice(obj, name, choices):
  """The named hparam of ``obj`` must be one of ``choices``."""
  if getattr(obj, name) not in choices:
    raise ValueError(
      f"hparam {name!r} must be one of {choices}, got {getattr(obj, name)!r}"
    )


def check_fused_kernels(value):
  """``fused_kernels`` must be "auto" (the encoder's element-wise chains,
  LayerNorm and the Adam update as XLA-compiled kernels where shapes are
  fixed and every device runs XLA) or false (TensorFlow's ops one by one
  everywhere, to compare the two paths). True is not a choice: the kernels
  are never forced onto a device that cannot compile them."""
  if not (value is False or value == "auto"):
    raise ValueError(
      f"hparam 'fused_kernels' must be \"auto\" or false, got {value!r}"
    )


def infer_types(defaults, declared):
  """Types from default values, with ``declared`` for None defaults."""
  types = {}
  for key, value in defaults.items():
    if key in declared:
      types[key] = declared[key]
    elif isinstance(value, bool):
      types[key] = bool
    elif isinstance(value, float):
      types[key] = float
    elif isinstance(value, int):
      types[key] = int
    elif value is not None:
      types[key] = type(value)
  return types


# types of the shared hyperparameters whose default is None
SHARED_DECLARED_TYPES = {
  "embedding_size": int,
  "tpu_job_name": str,
  "tpu_name": str,
  "tpu_zone": str,
  "gcp_project": str,
  "init_checkpoint": (str, dict),
  "seed": int,
  "model_hparam_overrides": dict,
  "fused_kernels": (str, bool),
}


class HParams:
  """Base of the configure_*.py configs: official names, strict updates.

  A subclass sets its defaults as attributes (the official way), calling
  `_model_defaults` and `_tpu_defaults` for the settings both jobs share,
  then `_seal` once every default exists, then `update` with the passed-in
  hyperparameters. An unknown name or a wrong type is an error naming it.
  """

  DECLARED_TYPES = {}  # extra types of a subclass's None defaults
  # old name -> new name of a renamed hyperparameter; the old name still
  # works for one release, with a line saying what to write instead
  RENAMED = {}

  @classmethod
  def renamed(cls, kwargs):
    """``kwargs`` with each old hparam name replaced by its new one."""
    kwargs = dict(kwargs)
    for old, new in cls.RENAMED.items():
      if old in kwargs:
        logs.log(
          f"hparam {old!r} is renamed {new!r}; the old name is read until "
          f"the next release"
        )
        kwargs.setdefault(new, kwargs.pop(old))
    return kwargs

  def _model_defaults(self):
    self.model_size = "small"  # "tiny", "small", "base" or "large"
    # overrides of the transformer hparams of model_size (see BertConfig)
    self.model_hparam_overrides = {}
    self.embedding_size = None  # bert hidden size by default
    self.vocab_size = 30522  # number of tokens in the vocabulary
    self.do_lower_case = True  # lowercase the input?
    # "auto" or false: compiled kernels where they pay (check_fused_kernels)
    self.fused_kernels = "auto"

  def _tpu_defaults(self):
    self.use_tpu = False
    self.num_tpu_cores = 1
    self.tpu_job_name = None
    self.tpu_name = None  # cloud TPU to use for training
    self.tpu_zone = None  # GCE zone where the Cloud TPU is located in
    self.gcp_project = None  # project name for the Cloud TPU-enabled project

  def _seal(self):
    """Fixes the set of known hyperparameters and their types."""
    declared = dict(SHARED_DECLARED_TYPES, **self.DECLARED_TYPES)
    self._types = infer_types(self.__dict__, declared)

  def update(self, kwargs):
    check_and_update(self, kwargs, self._types)

  def to_dict(self):
    return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
