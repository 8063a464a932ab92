"""Checkpoints keyed by the official variable names.

Our TF2 checkpoints hold the model as a dict {official name: variable}, so
their keys read ``model/electra.Sencoder.Slayer_0.../.ATTRIBUTES/...``: the
official name with TensorFlow's escaping. `checkpoint_variables` reads both
that layout and the official TF1 one (keys are the names themselves), so one
loader initialises a model from either.
"""

import os

import tensorflow as tf

_TF2_PREFIX = "model/"
_TF2_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_NOT_MODEL = ("global_step", "_CHECKPOINTABLE_OBJECT_GRAPH")


def make_checkpoint(variables_by_name, optimizer=None, **extra):
  """A `tf.train.Checkpoint` of the model (by name) and the optimizer."""
  kwargs = dict(model=dict(variables_by_name), **extra)
  if optimizer is not None:
    kwargs["optimizer"] = optimizer
  return tf.train.Checkpoint(**kwargs)


def resolve_checkpoint_path(path):
  """A checkpoint prefix from a directory, a 'checkpoint' file or a prefix."""
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise FileNotFoundError(
        f"checkpoint directory {path} holds no checkpoint"
      )
    return latest
  if os.path.basename(path) == "checkpoint" and tf.io.gfile.exists(path):
    return resolve_checkpoint_path(os.path.dirname(path) or ".")
  if tf.io.gfile.exists(path + ".index"):
    return path
  raise FileNotFoundError(
    f"no checkpoint at {path} (expected a directory, "
    f"its 'checkpoint' file or a checkpoint prefix)"
  )


def unescape(local_name):
  """Inverts TensorFlow's escaping of object-graph names ('.S' is '/')."""
  out, i = [], 0
  while i < len(local_name):
    if local_name[i] == "." and i + 1 < len(local_name):
      out.append("/" if local_name[i + 1] == "S" else local_name[i + 1])
      i += 2
    else:
      out.append(local_name[i])
      i += 1
  return "".join(out)


def checkpoint_variables(path):
  """{official name: (checkpoint key, shape)} of a TF2 (ours) or TF1 checkpoint.

  Optimizer state (``adam_m``/``adam_v``, ``optimizer/``) and bookkeeping
  (``global_step``) are left out.
  """
  named = {}
  for key, shape in tf.train.list_variables(path):
    if key.startswith(_TF2_PREFIX) and key.endswith(_TF2_SUFFIX):
      name = unescape(key[len(_TF2_PREFIX) : -len(_TF2_SUFFIX)])
    elif "/.ATTRIBUTES/" in key or key in _NOT_MODEL:
      continue
    elif key.endswith("/adam_m") or key.endswith("/adam_v"):
      continue
    else:
      name = key
    named[name] = (key, shape)
  return named


def checkpoint_slots(path):
  """{(official name, "adam_m"/"adam_v"): key} of the optimizer slots."""
  slots = {}
  for key, _ in tf.train.list_variables(path):
    for slot in ("adam_m", "adam_v"):
      prefix = f"optimizer/{slot}/"
      if key.startswith(prefix) and key.endswith(_TF2_SUFFIX):
        slots[(unescape(key[len(prefix) : -len(_TF2_SUFFIX)]), slot)] = key
      elif key.endswith("/" + slot) and "/.ATTRIBUTES/" not in key:
        slots[(key[: -len(slot) - 1], slot)] = key
  return slots


def init_optimizer_slots(optimizer, path):
  """Loads Adam slots found in the checkpoint; returns how many were loaded.

  Released checkpoints have none: the optimizer then starts fresh.
  """
  path = resolve_checkpoint_path(path)
  slots = checkpoint_slots(path)
  reader = tf.train.load_checkpoint(path)
  loaded = 0
  for (name, slot), key in slots.items():
    table = optimizer.adam_m if slot == "adam_m" else optimizer.adam_v
    if name in table and reader.get_variable_to_shape_map()[key] == (
      table[name].shape.as_list()
    ):
      table[name].assign(reader.get_tensor(key))
      loaded += 1
  return loaded


class LoadReport:
  """What `init_from_checkpoint` did: loaded, left at init, unused."""

  def __init__(self, path, loaded, missing, unused):
    self.path, self.loaded, self.missing, self.unused = (
      path,
      loaded,
      missing,
      unused,
    )

  def summary(self, max_names=10):
    def names(items):
      shown = ", ".join(items[:max_names])
      return shown + (
        f", ... ({len(items) - max_names} more)"
        if len(items) > max_names
        else ""
      )

    lines = [f"Initialised {len(self.loaded)} variables from {self.path}"]
    if self.missing:
      lines.append(
        f"  left at initialisation ({len(self.missing)}): "
        + names(self.missing)
      )
    if self.unused:
      lines.append(
        f"  unused in the checkpoint ({len(self.unused)}): "
        + names(self.unused)
      )
    return "\n".join(lines)


def init_from_checkpoint(variables_by_name, path):
  """Assigns every variable whose official name is in the checkpoint.

  Args:
    variables_by_name: {official name: variable}.
    path: a checkpoint directory, 'checkpoint' file or prefix (ours or TF1).

  Returns:
    A `LoadReport`.
  Raises:
    ValueError naming the variable and both shapes on a shape mismatch
    (nothing is assigned then).
  """
  path = resolve_checkpoint_path(path)
  available = checkpoint_variables(path)
  for name, var in variables_by_name.items():
    if name in available and list(available[name][1]) != var.shape.as_list():
      raise ValueError(
        f"checkpoint {path} has {name} with shape {available[name][1]}, "
        f"the model's is {var.shape.as_list()} (another model size, "
        f"embedding size or vocab?)"
      )
  reader = tf.train.load_checkpoint(path)
  loaded = sorted(n for n in variables_by_name if n in available)
  for name in loaded:
    variables_by_name[name].assign(reader.get_tensor(available[name][0]))
  missing = sorted(n for n in variables_by_name if n not in available)
  unused = sorted(n for n in available if n not in variables_by_name)
  return LoadReport(path, loaded, missing, unused)


def write_tf1_checkpoint(path, prefix):
  """Rewrites a checkpoint in the official TF1 layout (keys = names).

  Model variables keep their official names, Adam slots become
  ``<name>/adam_m`` and ``<name>/adam_v``, the step ``global_step``; a
  ``checkpoint`` state file is written beside it. Tools that expect the
  official layout (e.g. the HuggingFace converter) read the result.

  Args:
    path: our checkpoint (directory, 'checkpoint' file or prefix) or a TF1 one.
    prefix: output prefix, e.g. ``out/model.ckpt-1000``.
  Returns:
    The number of tensors written.
  """
  path = resolve_checkpoint_path(path)
  reader = tf.train.load_checkpoint(path)
  tensors = {
    name: reader.get_tensor(key)
    for name, (key, _) in checkpoint_variables(path).items()
  }
  for (name, slot), key in checkpoint_slots(path).items():
    tensors[f"{name}/{slot}"] = reader.get_tensor(key)
  for key in (
    "optimizer/global_step/.ATTRIBUTES/VARIABLE_VALUE",
    "global_step",
  ):
    if reader.has_tensor(key):
      tensors["global_step"] = reader.get_tensor(key)
  names = sorted(tensors)
  directory = os.path.dirname(os.path.abspath(prefix))
  tf.io.gfile.makedirs(directory)
  tf.raw_ops.SaveV2(
    prefix=prefix,
    tensor_names=names,
    shape_and_slices=[""] * len(names),
    tensors=[tf.constant(tensors[n]) for n in names],
  )
  base = os.path.basename(prefix)
  with tf.io.gfile.GFile(os.path.join(directory, "checkpoint"), "w") as f:
    f.write(
      f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n'
    )
  return len(names)
