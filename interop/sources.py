"""Where initial weights come from: one interface over every checkpoint kind.

``init_checkpoint`` (and ``--checkpoint``) may name our TF2 checkpoint, an
official TF1 one, a transformers directory, or a dict naming the
discriminator's and the generator's sources separately::

  {"discriminator": "hfl-small-discriminator/",
   "generator": "hfl-small-generator/"}

`open_source` turns any of these into a `Source`: official names, shapes,
values, and the Adam slots when the checkpoint has them.
"""

import tensorflow as tf

from interop import checkpoints
from interop import hf_dir
from interop import model_record

ROLES = ("discriminator", "generator")


def parse_spec(spec, what="init_checkpoint"):
  """{"model": path} or {"discriminator": path, "generator": path}."""
  if isinstance(spec, str) and spec:
    return {"model": spec}
  if isinstance(spec, dict) and spec and set(spec) <= set(ROLES):
    if all(isinstance(v, str) and v for v in spec.values()):
      return dict(spec)
  raise ValueError(
    f"{what} must be a checkpoint path or a dict with the keys "
    f"{ROLES} naming paths, got {spec!r}"
  )


def hf_directories(spec):
  """The transformers directories of a spec: {role: directory}."""
  if not spec:
    return {}
  return {
    role: path
    for role, path in parse_spec(spec).items()
    if hf_dir.is_hf_directory(path)
  }


def hparams_from_checkpoint(spec, given, exclude=()):
  """Hparams a checkpoint ``spec`` records that ``given`` does not set.

  A transformers directory: the shape (from config.json), the vocab.txt
  beside it and its casing. Ours: what its ``model.json`` records (see
  `model_record`). Empty for checkpoints that record nothing. A user's
  value always wins; ``exclude`` names hparams not to take.
  """
  directories = hf_directories(spec)
  if directories:
    derived = hf_dir.directory_hparams(directories)
  elif spec:
    derived = model_record.recorded_hparams(model_path(spec))
  else:
    derived = {}
  return {
    k: v for k, v in derived.items() if k not in given and k not in exclude
  }


def model_path(spec):
  """The path of the discriminator (or the whole model) of a spec."""
  parts = parse_spec(spec)
  return parts.get("discriminator") or parts.get("model")


class Source:
  """Official names -> values; `unused` and `notes` go into load reports."""

  def __init__(self, path, shapes, unused=(), notes=()):
    self.path = path
    self.shapes = dict(shapes)  # {official name: shape list}
    self.unused = list(unused)
    self.notes = list(notes)

  def read(self, name):
    raise NotImplementedError

  def slots(self):
    """{(official name, "adam_m"/"adam_v"): (shape, reader of the value)}."""
    return {}

  def global_step(self):
    """The training step the checkpoint was saved at, when it says."""
    return None


class TFSource(Source):
  """Our TF2 checkpoint or an official TF1 one."""

  def __init__(self, path):
    path = checkpoints.resolve_checkpoint_path(path)
    available = checkpoints.checkpoint_variables(path)
    super().__init__(path, {n: list(s) for n, (_, s) in available.items()})
    self._keys = {n: key for n, (key, _) in available.items()}
    self._reader = tf.train.load_checkpoint(path)

  def read(self, name):
    return self._reader.get_tensor(self._keys[name])

  def slots(self):
    shapes = self._reader.get_variable_to_shape_map()
    return {
      slot: (list(shapes[key]), lambda k=key: self._reader.get_tensor(k))
      for slot, key in checkpoints.checkpoint_slots(self.path).items()
    }

  def global_step(self):
    for key in (
      "optimizer/global_step/.ATTRIBUTES/VARIABLE_VALUE",
      "global_step",
    ):
      if self._reader.has_tensor(key):
        return self._reader.get_tensor(key)
    return None


class HFSource(Source):
  """A transformers ELECTRA directory (no optimizer state)."""

  def __init__(self, directory):
    model = hf_dir.HFModel(directory)
    super().__init__(
      model.path,
      {n: list(a.shape) for n, a in model.tensors.items()},
      model.unused,
      [f"{model.architecture} from {model.path}"] + model.notes,
    )
    self._tensors = model.tensors

  def read(self, name):
    return self._tensors[name]


class MergedSource(Source):
  """The generator's names from one source, everything else from another."""

  def __init__(self, discriminator, generator):
    self._parts = {}
    for name in discriminator.shapes:
      if not name.startswith("generator") or generator is None:
        self._parts[name] = discriminator
    if generator is not None:
      for name in generator.shapes:
        if name.startswith("generator"):
          self._parts[name] = generator
    parts = [s for s in (discriminator, generator) if s is not None]
    super().__init__(
      " + ".join(s.path for s in parts),
      {n: s.shapes[n] for n, s in self._parts.items()},
      [u for s in parts for u in s.unused],
      [note for s in parts for note in s.notes],
    )
    self._discriminator = discriminator

  def read(self, name):
    return self._parts[name].read(name)

  def slots(self):
    return self._discriminator.slots() if self._discriminator else {}


def open_one(path):
  """A `Source` for one path: a transformers directory or a checkpoint."""
  if hf_dir.is_hf_directory(path):
    return HFSource(path)
  return TFSource(path)


def open_source(spec, what="init_checkpoint"):
  """A `Source` for a path or a {"discriminator", "generator"} dict."""
  parts = parse_spec(spec, what)
  if "model" in parts:
    return open_one(parts["model"])
  discriminator = (
    open_one(parts["discriminator"]) if "discriminator" in parts else None
  )
  generator = open_one(parts["generator"]) if "generator" in parts else None
  if discriminator is None:
    discriminator = Source("(no discriminator)", {})
  return MergedSource(discriminator, generator)
