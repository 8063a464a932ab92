"""Writing any `Source` as a TF1 (official layout) or TF2 (ours) checkpoint."""

import os
import shutil
import tempfile

import tensorflow as tf

from interop import checkpoints
from interop import sources as sources_lib


def write_tf1_checkpoint(spec, prefix):
  """Rewrites a checkpoint in the official TF1 layout (keys = names).

  Model variables keep their official names, Adam slots become
  ``<name>/adam_m`` and ``<name>/adam_v``, the step ``global_step``; a
  ``checkpoint`` state file is written beside it, so the official code and
  TF1 tools read the result.

  Args:
    spec: any checkpoint `sources.open_source` accepts (ours, TF1, a
      transformers directory, a discriminator/generator dict).
    prefix: output prefix, e.g. ``out/model.ckpt-1000``.
  Returns:
    The number of tensors written.
  """
  source = sources_lib.open_source(spec, "--checkpoint")
  tensors = {name: source.read(name) for name in source.shapes}
  for (name, slot), (_, read) in source.slots().items():
    tensors[f"{name}/{slot}"] = read()
  step = source.global_step()
  if step is not None:
    tensors["global_step"] = step
  names = sorted(tensors)
  directory = os.path.dirname(os.path.abspath(prefix))
  tf.io.gfile.makedirs(directory)
  tf.raw_ops.SaveV2(
    prefix=prefix,
    tensor_names=names,
    shape_and_slices=[""] * len(names),
    tensors=[tf.constant(tensors[n]) for n in names],
  )
  checkpoints.write_state_file(directory, os.path.basename(prefix))
  return len(names)


def write_tf2_checkpoint(spec, prefix):
  """Writes the model variables of any checkpoint as one of ours.

  The result is what ``init_checkpoint`` and our loaders read fastest (no
  optimizer state: a run from it starts its optimizer fresh).
  Returns:
    The number of variables written.
  """
  source = sources_lib.open_source(spec, "--checkpoint")
  variables = {
    name: tf.Variable(source.read(name), name=name) for name in source.shapes
  }
  directory = os.path.dirname(os.path.abspath(prefix))
  tf.io.gfile.makedirs(directory)
  path = checkpoints.make_checkpoint(variables).write(prefix)
  checkpoints.write_state_file(directory, os.path.basename(path))
  return len(variables)


def check_new_directory(output):
  """An error when ``output`` exists: a new checkpoint directory never
  replaces or mixes with an existing one (check before the work)."""
  if os.path.exists(output):
    raise FileExistsError(
      f"--output {output} exists; name a new directory (nothing was written)"
    )


def write_new_directory(output, tensors, files, record):
  """Writes a new checkpoint directory whole or not at all.

  Everything goes into a staging directory beside ``output``, which is
  renamed into place at the end (removed on any error): a reader, or a
  crash, never sees half of it. ``output`` must not exist.

  Args:
    output: the directory to create.
    tensors: {official name: array}, written as our checkpoint
      ``model.ckpt``.
    files: {file name: text} written beside it (vocab.txt, ...).
    record: called with the checkpoint's prefix once files and weights are
      written, to write the records beside it (model.json, tasks.json).
  """
  check_new_directory(output)
  parent = os.path.dirname(os.path.abspath(output))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(dir=parent, prefix=".writing-")
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(staging, 0o777 & ~umask)  # as os.makedirs would make it
  try:
    for name, text in files.items():
      with open(os.path.join(staging, name), "w", encoding="utf-8") as f:
        f.write(text)
    variables = {n: tf.Variable(v, name=n) for n, v in tensors.items()}
    path = checkpoints.make_checkpoint(variables).write(
      os.path.join(staging, "model.ckpt")
    )
    checkpoints.write_state_file(staging, os.path.basename(path))
    record(path)
    os.rename(staging, output)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
