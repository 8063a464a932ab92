"""The teachers' outputs over a training set, computed once in one
inference pass and cached to disk beside its TFRecords, so that later
epochs, trials and resumed runs read them instead of running the teachers.

The file ``<records>.teacher-<fingerprint>.npz`` holds one array per task,
[examples, ...] in the records' order, per-token outputs padded to
max_seq_length; its fingerprint covers the records file and the teachers'
checkpoints and shape, so a different teacher or data makes a new file.
Training batches carry each example's ``example_index``, by which the
cached rows are gathered (and cut to the batch's length, see
``bucket_by_length``).
"""

import hashlib
import io
import json
import os

import numpy as np
import tensorflow as tf

from interop import checkpoints
from util import logs

# the axis of a kind's output that runs over the tokens, and its padding
SEQUENCE_AXIS = {"tagging": 1, "qa": 2}
PADDING = {"tagging": 0.0, "qa": -1e4}


def _file_stamp(path):
  stat = os.stat(path)
  return [path, stat.st_size, stat.st_mtime_ns]


def _teacher_stamp(spec):
  """What identifies a teacher checkpoint: its index file, or for a
  transformers directory (no TensorFlow checkpoint) all of its files."""
  if os.path.isdir(spec) and tf.train.latest_checkpoint(spec) is None:
    names = sorted(os.listdir(spec))
    return [_file_stamp(os.path.join(spec, name)) for name in names]
  return _file_stamp(checkpoints.resolve_checkpoint_path(spec) + ".index")


def cache_path(config, record_path):
  """Where the outputs of ``config``'s teachers over ``record_path`` go."""
  stamps = [_file_stamp(record_path)]
  for spec in config.teacher_checkpoints():
    stamps.append(_teacher_stamp(spec))
  stamps.append([config.teacher_hparams, config.mixed_precision])
  digest = hashlib.sha1(json.dumps(stamps, default=str).encode()).hexdigest()
  base = record_path[: -len(".tfrecord")] if record_path.endswith(
    ".tfrecord"
  ) else record_path  # fmt: skip
  return f"{base}.teacher-{digest[:12]}.npz"


def _padded(values, kind, length):
  """Pads the token axis of a batch's ``values`` to ``length``."""
  axis = SEQUENCE_AXIS.get(kind)
  if axis is None or values.shape[axis] >= length:
    return values
  widths = [(0, 0)] * values.ndim
  widths[axis] = (0, length - values.shape[axis])
  return np.pad(values, widths, constant_values=PADDING[kind])


def compute(teachers, dataset, max_seq_length):
  """{task: [examples, ...] float32} over one pass of ``dataset`` (a
  prediction dataset, each example with its ``example_index``)."""
  step = tf.function(
    teachers.outputs, autograph=False, input_signature=[dataset.element_spec]
  )
  parts, order = {task.name: [] for task in teachers.tasks}, []
  for features in dataset:
    outputs = step(features)
    order.append(features["example_index"].numpy())
    for task in teachers.tasks:
      kind = teachers.kinds[task.name]
      parts[task.name].append(
        _padded(outputs[task.name].numpy(), kind, max_seq_length)
      )
  sort = np.argsort(np.concatenate(order), kind="stable")
  return {name: np.concatenate(p)[sort] for name, p in parts.items()}


def write(arrays, path):
  """Writes the arrays atomically (a reader never sees half a file)."""
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  partial = f"{path}.partial"
  with open(partial, "wb") as handle:
    handle.write(buffer.getvalue())
  os.replace(partial, path)


def load_or_compute(teachers, config, dataset_fn, record_path):
  """The cached outputs of ``record_path``, computing and writing them
  when no cache of these teachers and records exists.

  Args:
    dataset_fn: () -> the prediction dataset of ``record_path``.
  """
  path = cache_path(config, record_path)
  names = [task.name for task in teachers.tasks]
  if os.path.exists(path):
    with np.load(path) as saved:
      if set(saved.files) == set(names):
        logs.log(f"Read the teachers' outputs from {path}")
        return {name: saved[name] for name in names}
  arrays = compute(teachers, dataset_fn(), config.max_seq_length)
  write(arrays, path)
  logs.log(f"Wrote the teachers' outputs over the training set to {path}")
  return arrays


def gathered(table, kind, features):
  """The cached rows of a batch, cut to its length: ``table`` is a
  [examples, ...] variable, ``features`` has ``example_index``."""
  rows = tf.gather(table, features["example_index"])
  axis = SEQUENCE_AXIS.get(kind)
  if axis is None:
    return rows
  length = tf.shape(features["input_ids"])[-1]
  begin = [0] * rows.shape.rank
  size = [-1] * rows.shape.rank
  size[axis] = length
  return tf.slice(rows, begin, tf.stack(size))
