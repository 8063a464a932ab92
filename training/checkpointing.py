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
from util import logs

# what reading a truncated or corrupted checkpoint raises
_DAMAGE = (tf.errors.OpError, ValueError, IndexError)


class NoReadableCheckpointError(OSError):
  """Every checkpoint of a directory is damaged (nothing was deleted)."""


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (a full disk, say); the earlier ones
  are intact."""


def save_or_explain(save, directory):
  """Runs ``save()``; a failed write becomes a `CheckpointWriteError`."""
  try:
    return save()
  except (tf.errors.OpError, OSError) as e:
    first = (getattr(e, "message", None) or str(e)).strip().splitlines()
    raise CheckpointWriteError(
      f"could not write a checkpoint in {directory} "
      f"({first[0] if first else type(e).__name__}); the earlier "
      f"checkpoints are intact: free some space and run the same command "
      f"again to resume"
    ) from e


def restore_newest_readable(checkpoint, prefixes, directory):
  """Restores the newest of ``prefixes`` that can be read.

  A damaged one (truncated or corrupted ``.index``/``.data``) is reported,
  naming it, and the one before it is tried; nothing is deleted.
  Returns:
    The restored prefix, or None when ``prefixes`` is empty.
  Raises:
    NoReadableCheckpointError when none can be read.
  """
  for prefix in reversed(list(prefixes)):
    try:
      checkpoint.restore(prefix).assert_existing_objects_matched()
      return prefix
    except _DAMAGE as e:
      first = str(e).strip().splitlines()[0] if str(e).strip() else type(e)
      logs.log(
        f"Checkpoint {prefix} cannot be read ({first}); "
        f"falling back to the one before it"
      )
  if prefixes:
    raise NoReadableCheckpointError(
      f"no checkpoint in {directory} can be read (tried {len(prefixes)}); "
      f"nothing was deleted: move the damaged files away or restore them"
    )
  return None


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
    """Restores the newest readable checkpoint of model_dir (an older one
    when the newest is damaged); returns it or None."""
    state = tf.train.get_checkpoint_state(self.model_dir)
    prefixes = list(state.all_model_checkpoint_paths) if state else []
    if state and state.model_checkpoint_path not in prefixes:
      prefixes.append(state.model_checkpoint_path)
    prefixes = [
      p if os.path.isabs(p) else os.path.join(self.model_dir, p)
      for p in prefixes
    ]
    return restore_newest_readable(self.checkpoint, prefixes, self.model_dir)

  def save(self, step):
    """Saves as ``model.ckpt-<step>``; returns the path (chief) or None."""
    path = save_or_explain(
      lambda: self.manager.save(checkpoint_number=step), self._directory
    )
    if not self.chief:
      shutil.rmtree(self._directory, ignore_errors=True)
      os.makedirs(self._directory, exist_ok=True)
      return None
    return path
