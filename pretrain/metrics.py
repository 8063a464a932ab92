"""Pretraining evaluation metrics under the official names.

Each eval step returns sufficient statistics (weighted sums, and per-threshold
counts for the AUC) as tensors; `MetricsAccumulator` adds them up on the host
over steps and replicas and computes: masked_lm_accuracy, masked_lm_loss,
sampled_masked_lm_accuracy, disc_loss, disc_auc, disc_accuracy,
disc_precision, disc_recall and loss.
"""

import numpy as np
import tensorflow as tf

NUM_THRESHOLDS = 200  # as TF1 tf.metrics.auc
_EPSILON = 1e-7


def auc_thresholds():
  """TF1's AUC thresholds: just below 0, 198 inner values, just above 1."""
  inner = [(i + 1) / (NUM_THRESHOLDS - 1) for i in range(NUM_THRESHOLDS - 2)]
  return np.array([-_EPSILON] + inner + [1.0 + _EPSILON], np.float32)


def _num_replicas():
  ctx = tf.distribute.get_replica_context()
  return float(ctx.num_replicas_in_sync) if ctx is not None else 1.0


def _weighted(values, weights):
  weights = tf.cast(weights, tf.float32)
  return tf.stack(
    [
      tf.reduce_sum(tf.cast(values, tf.float32) * weights),
      tf.reduce_sum(weights),
    ]
  )


def auc_counts(labels, probs, weights):
  """Weighted [4, T] counts (tp, fn, tn, fp) of ``probs > threshold``."""
  above = probs[..., tf.newaxis] > auc_thresholds()
  positive = tf.cast(labels, tf.bool)[..., tf.newaxis]
  weights = tf.cast(weights, tf.float32)[..., tf.newaxis]
  axes = list(range(len(probs.shape)))

  def count(pred, label):
    return tf.reduce_sum(tf.cast(pred & label, tf.float32) * weights, axes)

  return tf.stack(
    [
      count(above, positive),
      count(~above, positive),
      count(~above, ~positive),
      count(above, ~positive),
    ]
  )


def eval_statistics(model, outputs, total_loss):
  """Sufficient statistics of one batch: {metric: [numerator, denominator]}.

  ``disc_auc`` maps to [4, T] threshold counts instead. ``total_loss`` is
  this replica's share of the global batch's loss (the shares add up to it),
  so its count is 1 / replicas: summed over replicas, one batch counts once.
  """
  masked = outputs.inputs
  mlm = outputs.mlm
  w = masked.masked_lm_weights
  stats = {
    "masked_lm_accuracy": _weighted(
      tf.equal(mlm.preds, masked.masked_lm_ids), w
    ),
    "masked_lm_loss": _weighted(mlm.per_example_loss, w),
    "loss": tf.stack([total_loss, 1.0 / _num_replicas()]),
  }
  disc = outputs.disc
  if disc is None:
    return stats
  stats["sampled_masked_lm_accuracy"] = _weighted(
    tf.equal(outputs.sampled_ids, masked.masked_lm_ids), w
  )
  if model.config.disc_weight > 0:
    real = outputs.fake_inputs.input_mask
    correct = tf.equal(disc.labels, disc.preds)
    stats["disc_loss"] = _weighted(
      disc.per_example_loss, tf.ones_like(disc.per_example_loss)
    )
    # The official AUC scores padding as true negatives with probability 0,
    # which inflates it; we count real tokens only.
    stats["disc_auc"] = auc_counts(disc.labels, disc.probs, real)
    stats["disc_accuracy"] = _weighted(correct, real)
    stats["disc_precision"] = _weighted(correct, disc.preds * real)
    stats["disc_recall"] = _weighted(correct, disc.labels * real)
  return stats


def auc_from_counts(counts):
  """Trapezoidal ROC AUC from [4, T] counts, as TF1 tf.metrics.auc."""
  tp, fn, tn, fp = counts
  tpr = (tp + _EPSILON) / (tp + fn + _EPSILON)
  fpr = fp / (fp + tn + _EPSILON)
  return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


class MetricsAccumulator:
  """Adds up `eval_statistics` over steps and computes the metrics."""

  def __init__(self):
    self.totals = {}

  def update(self, stats):
    for name, value in stats.items():
      value = np.asarray(value, np.float64)
      self.totals[name] = self.totals.get(name, 0.0) + value

  def result(self):
    results = {}
    for name, total in sorted(self.totals.items()):
      if name == "disc_auc":
        results[name] = auc_from_counts(total)
      else:
        results[name] = float(total[0] / total[1]) if total[1] else 0.0
    return results
