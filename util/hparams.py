"""Shared machinery for hyperparameter objects: strict updates and type checks.

The official configs reject an unknown hyperparameter; we do the same, name the
closest known one, and also reject a value of the wrong type.
"""

import difflib
import json
import os

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
    with open(text, encoding="utf-8") as f:
      try:
        loaded = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"--hparams file {text} is not valid JSON: {e}")
  else:
    try:
      loaded = json.loads(text or "{}")
    except json.JSONDecodeError as e:
      raise ValueError(f"--hparams is neither a .json path nor a JSON dict: "
                       f"{e}")
  if not isinstance(loaded, dict):
    raise ValueError(f"--hparams must be a JSON object, got "
                     f"{type(loaded).__name__}")
  return loaded


def merge_hparams(sources):
  """Loads several --hparams (dicts, JSON or .json paths); later ones win."""
  merged = {}
  for source in sources:
    merged.update(load_hparams(source))
  return merged


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
      close = difflib.get_close_matches(key, list(obj.__dict__), n=1)
      hint = f"; did you mean {close[0]!r}?" if close else ""
      raise ValueError(f"Unknown hparam {key!r}{hint}")
    expected = types.get(key)
    if expected is not None and not _type_ok(value, expected):
      names = (expected.__name__ if isinstance(expected, type)
               else " or ".join(t.__name__ for t in expected))
      raise TypeError(f"hparam {key!r} must be {names}, got "
                      f"{type(value).__name__} {value!r}")
    if expected is float and isinstance(value, int):
      value = float(value)
    obj.__dict__[key] = value


def check_at_least_one(obj, names):
  """Each named hparam of ``obj`` must be >= 1; the error names it."""
  for name in names:
    if getattr(obj, name) < 1:
      raise ValueError(f"hparam {name!r} must be at least 1, got "
                       f"{getattr(obj, name)}")


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
