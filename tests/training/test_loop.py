"""The one training loop (training/loop.py): calls up to the next event,
progress lines and event hooks at their steps, the non-finite guard, and
data errors translated by the job."""

import numpy as np
import pytest
import tensorflow as tf

from model import optimization
from training import distribution
from training import loop
from training import step as step_lib


class Lines:
  """A stand-in progress logger: the steps it was asked to log."""

  def __init__(self):
    self.steps = []

  def log(self, step, report):
    self.steps.append((step, sorted(report)))


def steps_until(step, total, *intervals):
  return loop.steps_until_event(step, total, intervals)


def test_steps_until_event_by_hand():
  assert steps_until(0, 10, 4) == 4
  assert steps_until(4, 10, 4, 3) == 2  # 6 is a multiple of 3
  assert steps_until(8, 10, 4) == 2  # the total comes first
  assert steps_until(3, 10, 0, None) == 7  # no interval: run to the end
  assert steps_until(10, 10, 4) == 1  # never zero


def make_loop(values, total, log_every=3, events=(5,)):
  """A loop over a linear model fed ``values`` one per step; returns the
  loop, its iterator and the variable."""
  strategy = tf.distribute.get_strategy()
  weight = tf.Variable([1.0, -2.0], name="electra/w/kernel")
  optimizer = optimization.create_optimizer([weight], 0.1, total)

  def loss_fn(features, _):
    loss = tf.reduce_sum(weight * features["x"])
    return loss, {"term": loss}

  replica_step = step_lib.make_replica_step(loss_fn, [weight], optimizer)
  settings = loop.LoopSettings(total, log_every, events, ["term", "loss"])
  train_loop = loop.TrainLoop(strategy, replica_step, optimizer, settings)
  dataset = tf.data.Dataset.from_tensor_slices(
    {"x": np.asarray(values, np.float32)}
  ).batch(1)
  iterator = iter(distribution.distribute_dataset(strategy, dataset))
  return train_loop, iterator, weight


def test_loop_runs_to_the_total_with_lines_and_events_at_their_steps():
  train_loop, iterator, weight = make_loop([[1.0, 1.0]] * 12, total=11)
  lines, events = Lines(), []
  report = train_loop.run(iterator, lines, events.append)
  assert train_loop.step == 11
  assert [s for s, _ in lines.steps] == [3, 6, 9, 11]
  assert lines.steps[0][1] == ["learning_rate", "loss", "term"]
  assert events == [5, 10, 11]
  # the last step's values; its update moved the weights after them
  assert float(report["loss"]) == float(report["term"])
  assert float(tf.reduce_sum(weight)) < float(report["loss"]) < -1.0


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_weights():
  values = [[1.0, 1.0]] * 4 + [[np.inf, 1.0]] + [[1.0, 1.0]] * 5
  train_loop, iterator, weight = make_loop(values, total=9, events=())
  with pytest.raises(FloatingPointError, match=r"at step 5 \(term = -?inf"):
    train_loop.run(iterator, None)
  # the call ran steps 4-6 (log_every 3): step 5's update was skipped
  assert train_loop.step == 5 and np.isfinite(weight.numpy()).all()


def test_data_errors_are_translated_by_the_job():
  train_loop, _, _ = make_loop([[1.0, 1.0]], total=3, events=())
  broken = tf.data.Dataset.from_tensor_slices({"x": ["not a number"]})
  broken = broken.map(lambda f: {"x": tf.strings.to_number(f["x"])[None]})
  train_loop.translate_error = lambda e: ValueError(f"bad file: {type(e)}")
  with pytest.raises(ValueError, match="bad file"):
    train_loop.run(iter(broken.batch(1)), None)
