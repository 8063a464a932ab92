"""What a fine-tuning trial has done so far, kept so that a rerun of the
same command resumes it: dev results per epoch (and the best), the step of
the newest checkpoint, and whether the trial is finished."""

import os

import numpy as np

from util import files as files_lib

STATE_FILE = "trial_state.json"


class EpochTracker:
  """Dev results after each epoch: the last, and the best with its epoch
  (by the mean over tasks of each task's first metric)."""

  def __init__(self, config):
    self.config = config
    self.score, self.best, self.last = None, None, None
    self.history = []  # {"epoch", "results"} of every evaluation

  def on_epoch_end(self, run, epoch, last):
    config = self.config
    if not config.do_eval or not (config.eval_every_epoch or last):
      return
    self.add(run, epoch, run.evaluate("dev"))

  def _record(self, epoch, results):
    """Adds one evaluation; True when it is the new best."""
    self.history.append({"epoch": epoch, "results": results})
    self.last = results
    score = np.mean([next(iter(r.values())) for r in results.values()])
    if self.score is None or score > self.score:
      self.score, self.best = score, {"epoch": epoch, "results": results}
      return True
    return False

  def add(self, run, epoch, results):
    best = self._record(epoch, results)
    if best and self.config.keep_best_checkpoint and self.config.do_train:
      run.save("best")

  def replay(self, history, up_to_epoch):
    """Restores the evaluations of a resumed trial up to an epoch (later
    ones belong to steps that will be trained again)."""
    for entry in history:
      if entry["epoch"] <= up_to_epoch + 0.006:  # epochs are rounded to .01
        self._record(entry["epoch"], entry["results"])

  def outcome(self):
    """(last results, best {"epoch", "results", "history"} or None)."""
    if self.best is None:
      return self.last, None
    return self.last, dict(self.best, history=self.history)


# hparams that do not change what a trial trains (where files go, what is
# logged or written afterwards, how fast it runs): a rerun may change them
# and still reuse or resume the trial
NOT_TRAINING_HPARAMS = frozenset((
  "model_name", "data_dir", "raw_data_dir", "vocab_file", "model_dir",
  "results_txt", "results_json", "preprocessed_data_dir",
  "test_predictions_dir", "do_eval", "write_test_outputs", "n_writes_test",
  "num_trials", "keep_all_models", "log_examples", "log_every",
  "iterations_per_loop", "save_checkpoints_steps",
  "use_tfrecords_if_existing", "eval_batch_size", "predict_batch_size",
  "eval_every_epoch", "keep_best_checkpoint", "jit_compile", "fused_kernels",
  "distribution_strategy", "use_tpu", "num_tpu_cores", "tpu_job_name",
  "tpu_name", "tpu_zone", "gcp_project",
))  # fmt: skip


def training_config(config):
  """The hparams that decide what a trial trains ({name: value})."""
  return {
    k: v for k, v in config.to_dict().items() if k not in NOT_TRAINING_HPARAMS
  }


def config_changes(state, config):
  """["name: recorded -> now", ...] where the run's training hparams differ
  from those ``state`` recorded (empty for a state written before the
  config was recorded: nothing to compare)."""
  recorded = state.get("config")
  if recorded is None:
    return []
  # through JSON, as the recorded ones went (tuples become lists)
  now = files_lib.json_roundtrip(training_config(config))
  return [
    f"{name}: {recorded.get(name)!r} -> {now.get(name)!r}"
    for name in sorted(set(recorded) | set(now))
    if recorded.get(name) != now.get(name)
  ]


def path(model_dir):
  return os.path.join(model_dir, STATE_FILE)


def load(model_dir):
  """The saved state of a trial directory, or None."""
  if not os.path.exists(path(model_dir)):
    return None
  return files_lib.load_json(path(model_dir))


def save(model_dir, tracker, step, done=False):
  """Writes the state (atomically) before the checkpoint of ``step``, with
  the training hparams it was trained with."""
  last, best = tracker.outcome()
  files_lib.atomic_write_json(
    {"step": step, "done": done, "history": tracker.history,
     "last": last, "best": best,
     "config": training_config(tracker.config)},
    path(model_dir),
  )  # fmt: skip
