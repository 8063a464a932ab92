"""The one training loop: several steps per call, events, progress, guards.

`TrainLoop` drives a replica step (see `step.make_replica_step`) from a
start step to a total under a `tf.distribute` strategy: each call of the
compiled loop runs the steps up to the next event (a progress line, a
checkpoint, an epoch end, the last step), then the Python side checks that
every loss and update was finite, logs, and runs the caller's event hook.
"""

import dataclasses
from collections.abc import Sequence
from typing import Callable
from typing import Optional

import tensorflow as tf

from util import logs

SUM = tf.distribute.ReduceOp.SUM


class WorkerLostError(RuntimeError):
  """Another worker of a multi-worker run went away."""


def make_train_steps(strategy, replica_step, optimizer, names):
  """A `tf.function` running ``n`` steps on a distributed iterator.

  The step is traced once, inside the loop. Returns the last step's global
  values of ``names``, its learning rate, the number of steps whose values
  or update were not finite (``skipped``) and the values at the first such
  step (``bad_<name>``, and ``bad_index``, its 0-based position).
  """

  def one_step(iterator, i, state):
    learning_rate = optimizer.learning_rate()
    before = optimizer.global_step.read_value()
    per_replica = strategy.run(replica_step, args=(next(iterator),))
    report = {k: strategy.reduce(SUM, per_replica[k], axis=None) for k in names}
    finite = tf.logical_and(
      tf.reduce_all([tf.math.is_finite(v) for v in report.values()]),
      optimizer.global_step > before,
    )
    first = tf.logical_and(tf.logical_not(finite), state["bad_index"] < 0)
    return i + 1, dict(
      state,
      report=report,
      learning_rate=learning_rate,
      bad={k: tf.where(first, report[k], state["bad"][k]) for k in names},
      bad_index=tf.where(first, i, state["bad_index"]),
      skipped=state["skipped"] + tf.cast(tf.logical_not(finite), tf.int32),
    )

  # an explicit loop, without AutoGraph: converting this function and the
  # ones it calls took a quarter of a second of every run's first call
  @tf.function(autograph=False)
  def train_steps(iterator, n):
    zeros = {name: tf.constant(0.0) for name in names}
    state = dict(
      report=zeros,
      bad=zeros,
      learning_rate=tf.constant(0.0),
      skipped=tf.constant(0),
      bad_index=tf.constant(-1),
    )
    _, state = tf.while_loop(
      lambda i, _: i < n,
      lambda i, state: one_step(iterator, i, state),
      (tf.constant(0), state),
    )
    bad = {f"bad_{k}": v for k, v in state["bad"].items()}
    return dict(
      state["report"],
      learning_rate=state["learning_rate"],
      skipped=state["skipped"],
      bad_index=state["bad_index"],
      **bad,
    )

  return train_steps


def steps_until_event(step, total, intervals):
  """Steps to run before the next multiple of an interval or ``total``."""
  candidates = [total - step]
  for every in intervals:
    if every and every > 0:
      candidates.append(every - step % every)
  return max(1, min(candidates))


@dataclasses.dataclass
class LoopSettings:
  """What a `TrainLoop` runs.

  Attributes:
    total_steps: the step to train to.
    log_every: steps between progress lines.
    event_every: other intervals (checkpoints, epochs) that end a call and
      run ``on_event``.
    names: the report values to log (the loss terms, "loss").
  """

  total_steps: int
  log_every: int
  event_every: Sequence[int] = ()
  names: Sequence[str] = ("loss",)


class TrainLoop:
  """Runs a replica step from the optimizer's step to ``total_steps``.

  Args:
    strategy: the `tf.distribute` strategy.
    replica_step: features -> {name: this replica's share}.
    optimizer: the `AdamWeightDecay` (its global_step is the step).
    settings: a `LoopSettings`.
    latest_checkpoint: () -> the newest complete checkpoint, for messages.
    translate_error: optional exception -> exception to raise instead (or
      None to re-raise), e.g. to name a corrupted data file.
  """

  def __init__(
    self,
    strategy,
    replica_step,
    optimizer,
    settings,
    latest_checkpoint: Callable[[], Optional[str]] = lambda: None,
    translate_error=None,
  ):
    self.strategy = strategy
    self.optimizer = optimizer
    self.settings = settings
    self.latest_checkpoint = latest_checkpoint
    self.translate_error = translate_error
    self.train_steps = make_train_steps(
      strategy, replica_step, optimizer, list(settings.names)
    )

  @property
  def step(self):
    return int(self.optimizer.global_step.numpy())

  def run(self, iterator, progress, on_event=None):
    """Trains to ``total_steps``; returns the last report.

    Args:
      iterator: a distributed iterator of batches.
      progress: a `progress.ProgressLogger` (or None for no lines).
      on_event: optional step -> None, called at every multiple of an
        ``event_every`` interval and at the last step.
    """
    settings = self.settings
    step, report = self.step, None
    intervals = (settings.log_every,) + tuple(settings.event_every)
    while step < settings.total_steps:
      n = steps_until_event(step, settings.total_steps, intervals)
      report = self._call(iterator, n)
      self.check_finite(step, report)
      step = self.step
      shown = {k: report[k] for k in list(settings.names) + ["learning_rate"]}
      last = step >= settings.total_steps
      if progress is not None and (step % settings.log_every == 0 or last):
        progress.log(step, shown)
      if on_event is not None and (
        last
        or any(every and step % every == 0 for every in settings.event_every)
      ):
        on_event(step)
    return report

  def _call(self, iterator, n):
    try:
      return self.train_steps(iterator, tf.constant(n))
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as e:
      raise WorkerLostError(
        f"Lost contact with another worker ({e.message.splitlines()[0]}). "
        f"The run stopped; the last checkpoint is "
        f"{self.latest_checkpoint()}. Restart every worker with the same "
        f"command to resume from it."
      ) from e
    except tf.errors.OpError as e:
      better = self.translate_error(e) if self.translate_error else None
      if better is None:
        raise
      raise better from e

  def check_finite(self, step_before, report):
    """Stops on a non-finite loss or gradient, naming the step and terms.

    The bad update was not applied and nothing is saved after the last good
    checkpoint. With float16 loss scaling, skipped steps are part of the
    method (the scale adapts) and are only counted.
    """
    skipped = int(report["skipped"])
    if not skipped:
      return
    if self.optimizer.loss_scale is not None:
      logs.log(
        f"  {skipped} step(s) skipped for non-finite float16 "
        f"gradients; loss scale now "
        f"{float(self.optimizer.loss_scale):g}"
      )
      return
    at = step_before + int(report["bad_index"]) + 1
    terms = ", ".join(
      f"{name} = {float(report['bad_' + name]):.4g}"
      for name in self.settings.names
    )
    raise FloatingPointError(
      f"Non-finite loss or gradients at step {at} ({terms}); training "
      f"stopped without applying that update. The last good checkpoint "
      f"{self.latest_checkpoint()} is kept and nothing was saved after it; "
      f"lower learning_rate or check the data."
    )
