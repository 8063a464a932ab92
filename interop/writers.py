"""Writing any `Source` as a TF1 (official layout) or TF2 (ours) checkpoint."""

import os

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
