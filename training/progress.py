"""The progress line of the official ETA hook, plus TensorBoard scalars."""

import datetime
import re
import time

import tensorflow as tf

from util import logs


def secs_to_str(secs):
  """Formats seconds like the official ETA hook: '1:02:03', '2:03', '3'."""
  text = str(datetime.timedelta(seconds=int(round(secs))))
  for pattern in ("^0:", "^0", "^0:", "^0"):
    text = re.sub(pattern, "", text)
  return text or "0"


class ProgressLogger:
  """Logs ``step/total = %, SPS, ELAP, ETA - name: value ...`` lines.

  Args:
    total_steps: the last step of the run.
    start_step: the step the run (re)started from, for the rate.
    writer: optional `tf.summary` writer; each value goes to ``train/<name>``.
  """

  def __init__(self, total_steps, start_step, writer=None):
    self.total_steps = total_steps
    self.start_step = start_step
    self.start_time = time.time()
    self.writer = writer

  def log(self, step, report):
    """Logs ``report`` ({name: scalar}) at ``step``."""
    elapsed = time.time() - self.start_time
    per_step = elapsed / max(1, step - self.start_step)
    msg = (
      f"{step}/{self.total_steps} = "
      f"{100.0 * step / self.total_steps:.1f}%, SPS: {1 / per_step:.1f}, "
      f"ELAP: {secs_to_str(elapsed)}, ETA: "
      f"{secs_to_str((self.total_steps - step) * per_step)}"
    )
    for name, value in report.items():
      msg += f" - {name}: {float(value):.4f}"
    logs.log(msg)
    if self.writer is not None:
      with self.writer.as_default(step=step):
        for name, value in report.items():
          tf.summary.scalar(f"train/{name}", float(value))
        tf.summary.scalar("train/steps_per_second", 1 / per_step)
