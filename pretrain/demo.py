"""The bundled demo: an original Chinese corpus under demo/, built on demand."""

import os

import tensorflow as tf

from pretrain import dataset_builder
from util import logs


def ensure_demo_tfrecords(config, demo_dir):
  """Builds the demo TFRecords when the config points at missing demo data.

  Args:
    config: the `PretrainingConfig` about to run.
    demo_dir: the demo's data directory (its corpus is ``corpus/``).
  """
  output_dir = os.path.join(demo_dir, "pretrain_tfrecords")
  if os.path.dirname(config.pretrain_tfrecords) != output_dir:
    return
  if tf.io.gfile.glob(config.pretrain_tfrecords):
    return
  logs.heading(f"Building the demo TFRecords in {output_dir}")
  dataset_builder.build(
    dataset_builder.BuildOptions(
      corpus_dir=os.path.join(demo_dir, "corpus"),
      vocab_file=config.vocab_file,
      output_dir=output_dir,
      max_seq_length=config.max_seq_length,
      do_lower_case=config.do_lower_case,
    )
  )
