"""Featurizing fine-tuning data, caching it as TFRecords, and tf.data input.

Every split of a task set is written once to
``<preprocessed_data_dir>/<tasks>_<split>.tfrecord`` with a metadata JSON
(example count and a fingerprint of everything that shapes the features:
the hparams the tasks and the tokenizer read, and each data file and the
vocabulary by path, size and modification time); a later run reuses it
when ``use_tfrecords_if_existing`` is true and the fingerprint matches, and
rebuilds it otherwise.
"""

import hashlib
import json
import math
import os
import random

import tensorflow as tf

from util import files as files_lib
from util import logs

SHARED_SPECS = {
  "input_ids": "seq",
  "input_mask": "seq",
  "segment_ids": "seq",
  "task_id": [],
}


# the hparams that shape a split's features (beside the data files)
FEATURE_HPARAMS = (
  "max_seq_length", "do_lower_case", "double_unordered", "custom_tasks",
  "debug", "tagging_scheme", "doc_stride", "max_query_length", "seed",
)  # fmt: skip


def file_stamp(path):
  """(absolute path, size, modification time in ns) of a file; a missing
  file (a split that does not exist) stamps as such."""
  try:
    stat = os.stat(path)
  except OSError:
    return [os.path.abspath(path), None, None]
  return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]


class Preprocessor:
  """Turns the tasks' examples into cached TFRecords and datasets."""

  def __init__(self, config, tasks, tokenizer):
    self.config = config
    self.tasks = tasks
    self.tokenizer = tokenizer
    seq = [config.max_seq_length]
    # a multiple-choice task packs every option of a question as a row
    choices = [t.max_choices for t in tasks if t.max_choices]
    if choices:
      seq = [max(choices)] + seq
    self.specs = {
      name: (seq if shape == "seq" else shape, tf.int64)
      for name, shape in SHARED_SPECS.items()
    }
    for task in tasks:
      self.specs.update(task.feature_specs())
    # the per-token features, which bucketed batches cut short
    self.seq_features = {
      name for name, (shape, _) in self.specs.items() if list(shape) == seq
    }

  def _fingerprint(self, tasks, split):
    settings = {name: getattr(self.config, name) for name in FEATURE_HPARAMS}
    settings.update(
      tasks=[t.name for t in tasks],
      split=split,
      raw_data_dir=os.path.abspath(self.config.raw_data_dir),
      vocab=file_stamp(self.config.vocab_file),
      max_examples=self.config.max_examples.get(split),
      padded_to=self.config.train_batch_size if split == "train" else 1,
      data_files=[file_stamp(p) for t in tasks for p in t.data_files(split)],
    )
    return hashlib.sha1(
      json.dumps(settings, sort_keys=True).encode()
    ).hexdigest()

  def _paths(self, tasks, split):
    prefix = os.path.join(
      self.config.preprocessed_data_dir,
      "_".join(sorted(t.name for t in tasks)) + "_" + split,
    )
    return prefix + ".tfrecord", prefix + ".metadata.json"

  def _featurize(self, tasks, split):
    features = []
    for task in tasks:
      examples = task.split_examples(split)
      task_id = self.config.task_names.index(task.name)
      first = len(features)
      for feature in task.featurize(examples, self.tokenizer):
        feature["task_id"] = task_id
        features.append(feature)
      if self.config.log_examples and len(features) > first:
        self._log_example(task, split, features[first])
    return features

  def _log_example(self, task, split, feature):
    """The first feature of a split, with its tokens (official
    log_examples)."""
    length = sum(feature["input_mask"])
    token_of = {i: t for t, i in self.tokenizer.vocab.items()}
    tokens = [token_of.get(i, "?") for i in feature["input_ids"][:length]]
    logs.log(f"  {task.name} {split} example: {' '.join(tokens)}")
    for name, value in sorted(feature.items()):
      shown = value[:length] if isinstance(value, list) else value
      logs.log(f"    {name}: {shown}")

  def _serialize(self, feature):
    values = {}
    for name, (shape, dtype) in self.specs.items():
      value = feature.get(name, [0] * math.prod(shape) if shape else 0)
      value = value if shape else [value]
      values[name] = (
        tf.train.Feature(float_list=tf.train.FloatList(value=value))
        if dtype == tf.float32
        else tf.train.Feature(int64_list=tf.train.Int64List(value=value))
      )
    return tf.train.Example(
      features=tf.train.Features(feature=values)
    ).SerializeToString()

  def prepare(self, tasks, split, is_training):
    """Writes (or reuses) the TFRecords of a split; returns (path, count)."""
    record_path, metadata_path = self._paths(tasks, split)
    fingerprint = self._fingerprint(tasks, split)
    if self.config.use_tfrecords_if_existing and tf.io.gfile.exists(
      metadata_path
    ):
      metadata = files_lib.load_json(metadata_path)
      if metadata.get("fingerprint") == fingerprint:
        return record_path, metadata["n_examples"]
    features = self._featurize(tasks, split)
    real = len(features)
    if is_training:
      random.Random(self.config.seed).shuffle(features)
      # as official: pad with examples of no task (they carry no loss) to
      # whole batches, so every epoch ends on a batch boundary
      batch = self.config.train_batch_size
      no_task = {"task_id": len(self.config.task_names)}
      features += [dict(no_task) for _ in range(-real % batch)]
    os.makedirs(os.path.dirname(record_path), exist_ok=True)
    tmp_path = record_path + ".tmp"
    with tf.io.TFRecordWriter(tmp_path) as writer:
      for feature in features:
        writer.write(self._serialize(feature))
    os.replace(tmp_path, record_path)
    files_lib.atomic_write_json(
      {"n_examples": len(features), "fingerprint": fingerprint}, metadata_path
    )
    padding = len(features) - real
    logs.log(
      f"Wrote {real} {split} examples of {[t.name for t in tasks]} "
      + (f"(+{padding} padding to whole batches) " if padding else "")
      + f"to {record_path}"
    )
    return record_path, len(features)

  def _decode(self, record):
    spec = {
      name: tf.io.FixedLenFeature(shape, dtype)
      for name, (shape, dtype) in self.specs.items()
    }
    example = tf.io.parse_single_example(record, spec)
    return {
      k: v if v.dtype == tf.float32 else tf.cast(v, tf.int32)
      for k, v in example.items()
    }

  def _decode_indexed(self, index, record):
    return dict(self._decode(record), example_index=index)

  def _bucketed(self, dataset, batch_size, drop_remainder):
    """Batches of similar length, each cut to its longest row rounded up to
    ``bucket_multiple`` (padding is masked, so the outputs are the same up
    to float rounding; at most max_seq_length / bucket_multiple shapes)."""
    multiple = self.config.bucket_multiple

    def rounded(length):
      """``length`` (at least 1) rounded up to the multiple."""
      return (tf.maximum(length, 1) + multiple - 1) // multiple * multiple

    def longest(mask):
      """The longest row of ``mask`` [..., seq_len] (one example: one row,
      or one per option of a multiple-choice question)."""
      return tf.reduce_max(tf.reduce_sum(mask, -1))

    def bucket(example):
      return tf.cast(rounded(longest(example["input_mask"])), tf.int64)

    def cut(batch):
      length = tf.minimum(
        rounded(longest(batch["input_mask"])), self.config.max_seq_length
      )
      return {
        name: value[..., :length] if name in self.seq_features else value
        for name, value in batch.items()
      }

    dataset = dataset.group_by_window(
      bucket,
      lambda _, window: window.batch(batch_size, drop_remainder),
      window_size=batch_size,
    )
    return dataset.map(cut, num_parallel_calls=tf.data.AUTOTUNE)

  def dataset(
    self, record_path, batch_size, is_training, seed=None, with_index=False
  ):
    """Training: shuffled, repeated, fixed-size batches; else one pass, each
    example with its ``example_index`` (its position in the file, so
    outputs of bucketed batches can be put back in order). ``with_index``
    gives training examples their index too (cached teacher outputs).

    With ``bucket_by_length`` batches hold examples of similar length and
    are cut to the longest (see `_bucketed`); training batches still mix
    buckets in the shuffled order in which they fill.
    """
    records = tf.data.TFRecordDataset(record_path)
    indexed = with_index or not is_training
    if indexed:  # the index travels with its record through the shuffle
      records = records.enumerate()
    if is_training:
      records = records.shuffle(10000, seed=seed).repeat()
    dataset = records.map(
      self._decode_indexed if indexed else self._decode,
      num_parallel_calls=tf.data.AUTOTUNE,
    )
    if self.config.bucket_by_length:
      dataset = self._bucketed(dataset, batch_size, is_training)
    else:
      dataset = dataset.batch(batch_size, drop_remainder=is_training)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if is_training:
      return dataset
    # a prediction pass is short: without autotuning its iterator is freed
    # at once (with it, deleting the spent iterator can take a second)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
