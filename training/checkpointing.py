"""Checkpoints of a run: written whole by the chief, kept by a manager.

Under a multi-worker strategy every worker must take part in saving, but
only the chief's files are kept: the others write to a temporary directory
that is emptied after each save.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from training import distribution


class Checkpointer:
  """A `tf.train.CheckpointManager` over ``model_dir`` for one strategy.

  Args:
    checkpoint: the `tf.train.Checkpoint` to save and restore.
    model_dir: where the chief keeps its checkpoints.
    strategy: the `tf.distribute` strategy (decides who is the chief).
    max_to_keep: how many to keep (0 or None: all).
  """

  def __init__(self, checkpoint, model_dir, strategy, max_to_keep=5):
    self.checkpoint = checkpoint
    self.model_dir = model_dir
    self.chief = distribution.is_chief(strategy)
    self._directory = (
      model_dir
      if self.chief
      else tempfile.mkdtemp(prefix="electra-worker-ckpt-")
    )
    self.manager = tf.train.CheckpointManager(
      checkpoint,
      self._directory,
      max_to_keep=max_to_keep or None,
      checkpoint_name="model.ckpt",
    )

  @property
  def latest(self):
    return self.manager.latest_checkpoint if self.chief else None

  def restore_latest(self):
    """Restores the newest checkpoint of model_dir; returns it or None."""
    latest = tf.train.latest_checkpoint(self.model_dir)
    if latest:
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    return latest

  def save(self, step):
    """Saves as ``model.ckpt-<step>``; returns the path (chief) or None."""
    path = self.manager.save(checkpoint_number=step)
    if not self.chief:
      shutil.rmtree(self._directory, ignore_errors=True)
      os.makedirs(self._directory, exist_ok=True)
      return None
    return path
