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


def write_state_file(directory, basename):
  """The 'checkpoint' file naming ``basename`` as the directory's newest
  checkpoint (what `tf.train.latest_checkpoint` reads)."""
  with tf.io.gfile.GFile(os.path.join(directory, "checkpoint"), "w") as f:
    f.write(
      f'model_checkpoint_path: "{basename}"\n'
      f'all_model_checkpoint_paths: "{basename}"\n'
    )


def dense_heads(names):
  """Tasks whose head is one dense layer (classification or tagging):
  {task: [in, out] kernel name}. QA heads (``dense``, ``dense_1``,
  ``qa_hidden``, ...) are not among them."""
  scopes = {}
  for name in names:
    parts = name.split("/")
    if len(parts) >= 3 and parts[0] == "task_specific":
      scopes.setdefault(parts[1], set()).add("/".join(parts[2:]))
  return {
    task: f"task_specific/{task}/dense/kernel"
    for task, members in sorted(scopes.items())
    if members == {"dense/kernel", "dense/bias"}
  }
