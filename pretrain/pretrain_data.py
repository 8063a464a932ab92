"""The model inputs of pretraining and helpers to update them."""

import collections

import tensorflow as tf

from training import distribution

Inputs = collections.namedtuple(
  "Inputs",
  [
    "input_ids",
    "input_mask",
    "segment_ids",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
  ],
)


def features_to_inputs(features):
  """`Inputs` from a dict of feature tensors (masking fields optional)."""
  return Inputs(
    input_ids=features["input_ids"],
    input_mask=features["input_mask"],
    segment_ids=features["segment_ids"],
    masked_lm_positions=features.get("masked_lm_positions"),
    masked_lm_ids=features.get("masked_lm_ids"),
    masked_lm_weights=features.get("masked_lm_weights"),
  )


def get_updated_inputs(inputs, **kwargs):
  """A copy of ``inputs`` with the given fields replaced."""
  return inputs._replace(**kwargs)


FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids")
# each token's word index within its sequence (-1: none), written by
# build_pretraining_dataset.py --word-segmentation for word-based masking
WORD_IDS = "word_ids"


def list_input_files(pattern):
  """Files matching a comma-separated list of glob patterns (sorted)."""
  files = []
  for part in pattern.split(","):
    files.extend(tf.io.gfile.glob(part.strip()))
  if not files:
    raise FileNotFoundError(
      f"pretrain_tfrecords pattern {pattern!r} matches no file; build the "
      f"data with build_pretraining_dataset.py or set pretrain_tfrecords"
    )
  return sorted(files)


def decode_record(record, max_seq_length, with_word_ids=False):
  """Parses one serialized example into int32 features of [max_seq_length]
  (``word_ids`` too when ``with_word_ids``)."""
  names = FEATURE_NAMES + ((WORD_IDS,) if with_word_ids else ())
  spec = {
    name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in names
  }
  example = tf.io.parse_single_example(record, spec)
  return {name: tf.cast(value, tf.int32) for name, value in example.items()}


def make_dataset(
  files,
  batch_size,
  max_seq_length,
  is_training,
  input_context=None,
  seed=None,
  num_parallel_reads=4,
  skip_examples=0,
  with_word_ids=False,
):
  """The pretraining input pipeline.

  Files are sharded over input pipelines (one per worker), shuffled and read
  in parallel; examples are shuffled, repeated forever, parsed, batched with
  drop_remainder (static shapes for XLA/TPU) and prefetched. With a seed the
  order is a deterministic function of the files and the seed, so a resumed
  run skips exactly the examples it had consumed (``skip_examples``).

  Args:
    files: TFRecord paths.
    batch_size: examples per batch of this pipeline (per replica when
      ``input_context`` is given, otherwise global).
    max_seq_length: the length of every feature.
    is_training: shuffle files and examples.
    input_context: a `tf.distribute.InputContext` or None.
    seed: shuffle seed (None: nondeterministic).
    skip_examples: examples of this pipeline's stream to skip (resuming).
    with_word_ids: also read each token's word index (word masking).
  """
  if input_context is not None and input_context.num_input_pipelines > 1:
    if len(files) >= input_context.num_input_pipelines:
      files = files[
        input_context.input_pipeline_id :: input_context.num_input_pipelines
      ]
  dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
  if is_training:
    dataset = dataset.shuffle(
      len(files), seed=seed, reshuffle_each_iteration=True
    )
  dataset = dataset.repeat()
  # at most one reader per file of this pipeline: more would read the same
  # file twice at once (repeat) and put duplicates in a batch
  dataset = dataset.interleave(
    tf.data.TFRecordDataset,
    cycle_length=min(num_parallel_reads, len(files)),
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=seed is not None or not is_training,
  )
  if is_training:
    dataset = dataset.shuffle(10000, seed=seed)
  if skip_examples:
    dataset = dataset.skip(skip_examples)
  dataset = dataset.map(
    lambda r: decode_record(r, max_seq_length, with_word_ids),
    num_parallel_calls=tf.data.AUTOTUNE,
  )
  dataset = dataset.batch(batch_size, drop_remainder=True)
  return dataset.prefetch(tf.data.AUTOTUNE)


def distributed_dataset(
  strategy,
  files,
  global_batch_size,
  max_seq_length,
  is_training,
  seed=None,
  steps_done=0,
  with_word_ids=False,
):
  """A distributed dataset of ``global_batch_size`` examples per step.

  ``steps_done`` steps' worth of examples are skipped (resuming): each of the
  input pipelines has delivered global_batch_size / pipelines per step.
  """

  def dataset_fn(input_context):
    batch = input_context.get_per_replica_batch_size(global_batch_size)
    per_step = global_batch_size // input_context.num_input_pipelines
    return make_dataset(
      files,
      batch,
      max_seq_length,
      is_training,
      input_context,
      seed,
      skip_examples=steps_done * per_step,
      with_word_ids=with_word_ids,
    )

  return distribution.distribute_datasets_from_function(strategy, dataset_fn)


class InputDataError(ValueError):
  """A problem in the pretraining TFRecords; the message names the file."""


def check_input_files(files, max_seq_length, vocab_size, masking="token"):
  """Checks the first record of every file before any work starts.

  Raises `InputDataError` naming the file for: an unreadable (corrupted)
  record, a missing feature, a feature whose length is not max_seq_length,
  a token id outside [0, vocab_size), and records without word ids when
  ``masking`` is "whole_word".

  Returns:
    Whether every record has word ids and ``masking`` uses them.
  """
  with_word_ids = masking != "token"
  for path in files:
    features = _first_record_features(path)
    if features is None:
      continue  # an empty shard
    for name in FEATURE_NAMES:
      _check_feature(path, features, name, max_seq_length)
    ids = features["input_ids"].int64_list.value
    if min(ids) < 0 or max(ids) >= vocab_size:
      bad = max(ids) if max(ids) >= vocab_size else min(ids)
      raise InputDataError(
        f"{path}: token id {bad} is outside the "
        f"vocabulary (vocab_size {vocab_size})"
      )
    if WORD_IDS in features:
      _check_feature(path, features, WORD_IDS, max_seq_length)
    elif masking == "whole_word":
      raise InputDataError(
        f"{path}: records lack {WORD_IDS!r}, which hparam 'masking' "
        f"'whole_word' needs; build them with build_pretraining_dataset.py "
        f"--word-segmentation jieba, whitespace or ref"
      )
    else:
      with_word_ids = False
  return with_word_ids


def _first_record_features(path):
  """The features of a file's first record (None: an empty file)."""
  try:
    first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
  except tf.errors.OpError as e:
    raise InputDataError(
      f"{path}: not a readable TFRecord file ({e.message})"
    ) from e
  if first is None:
    return None
  return tf.train.Example.FromString(first.numpy()).features.feature


def _check_feature(path, features, name, max_seq_length):
  if name not in features:
    raise InputDataError(
      f"{path}: records lack the feature {name!r}; expected "
      f"{', '.join(FEATURE_NAMES)} (as build_pretraining_dataset.py "
      f"writes them)"
    )
  length = len(features[name].int64_list.value)
  if length != max_seq_length:
    raise InputDataError(
      f"{path}: feature {name!r} has length {length} but hparam "
      f"'max_seq_length' is {max_seq_length}; rebuild the data or set "
      f"max_seq_length to {length}"
    )


def find_corrupt_file(files):
  """The message naming the first file that cannot be read to its end."""
  for path in files:
    try:
      for _ in tf.data.TFRecordDataset(path):
        pass
    except tf.errors.DataLossError as e:
      return f"{path}: corrupted or truncated TFRecord file ({e.message})"
  return None
