"""Deterministic stand-ins for the random masking and sampling.

Tests that compare two ways of computing the same step (several replicas,
micro-batches, XLA) swap these in, so that both see the same masked
positions and sampled tokens.
"""

import tensorflow as tf

from pretrain import pretrain_data
from pretrain import pretrain_helpers


def deterministic_mask(inputs, mask_prob, n, special_ids, **unused):
  """The official counts, but positions picked by a fixed score, all [MASK]."""
  candidates = pretrain_helpers.get_candidates_mask(
    inputs.input_ids, inputs.input_mask, special_ids
  )
  seq_len = tf.shape(inputs.input_ids)[1]
  score = (inputs.input_ids * 7 + tf.range(seq_len) * 13) % 17 + 1
  score *= tf.cast(candidates, tf.int32)
  _, positions = tf.math.top_k(score, n)
  num_tokens = tf.cast(tf.reduce_sum(inputs.input_mask, -1), tf.float32)
  count = tf.maximum(
    1, tf.minimum(n, tf.cast(tf.round(num_tokens * mask_prob), tf.int32))
  )
  weights = tf.sequence_mask(count, n, tf.float32)
  positions *= tf.cast(weights, tf.int32)
  ids = pretrain_helpers.gather_positions(inputs.input_ids, positions)
  ids *= tf.cast(weights, tf.int32)
  masked, _ = pretrain_helpers.scatter_update(
    inputs.input_ids,
    tf.fill(tf.shape(positions), special_ids.mask_id),
    positions,
  )
  return pretrain_data.get_updated_inputs(
    inputs,
    input_ids=masked,
    masked_lm_positions=positions,
    masked_lm_ids=ids,
    masked_lm_weights=weights,
  )


def argmax_sample(logits, temperature=1.0, disallow=None):
  return tf.argmax(logits, -1, output_type=tf.int32)
