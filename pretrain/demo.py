"""The bundled demo: an original Chinese corpus under demo/, built on demand."""

import os

import tensorflow as tf

import configure_pretraining
from pretrain import dataset_builder
from util import utils


def ensure_demo_tfrecords(config):
  """Builds the demo TFRecords when the config points at missing demo data."""
  demo_dir = configure_pretraining.DEFAULT_DATA_DIR
  output_dir = os.path.join(demo_dir, "pretrain_tfrecords")
  if os.path.dirname(config.pretrain_tfrecords) != output_dir:
    return
  if tf.io.gfile.glob(config.pretrain_tfrecords):
    return
  utils.heading(f"Building the demo TFRecords in {output_dir}")
  dataset_builder.build(dataset_builder.BuildOptions(
      corpus_dir=os.path.join(demo_dir, "corpus"),
      vocab_file=config.vocab_file,
      output_dir=output_dir, max_seq_length=config.max_seq_length,
      do_lower_case=config.do_lower_case))
