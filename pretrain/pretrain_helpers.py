"""Pure tensor helpers for pretraining: gather/scatter, masking, sampling.

Shapes use B = batch, L = sequence length, N = positions per example
(max_predictions_per_seq), D = depth, V = vocabulary size.
"""

import collections
import math

import tensorflow as tf

from pretrain import pretrain_data

# token ids that are never masked out
SpecialIds = collections.namedtuple(
  "SpecialIds", ["cls_id", "sep_id", "mask_id"]
)
# the bert-base-chinese (21128) and English BERT layouts both use these
BERT_SPECIAL_IDS = SpecialIds(cls_id=101, sep_id=102, mask_id=103)


def gather_positions(sequence, positions):
  """Gathers the values at the given positions of each example.

  Args:
    sequence: [B, L] or [B, L, D] tensor.
    positions: [B, N] int tensor of indices into L.

  Returns:
    [B, N] or [B, N, D] tensor: ``out[b, n] = sequence[b, positions[b, n]]``.
  """
  return tf.gather(sequence, positions, batch_dims=1)


def first_occurrences(positions):
  """Marks each position that does not repeat an earlier one in its row.

  Args:
    positions: [B, N] int tensor.

  Returns:
    [B, N] bool tensor, True where ``positions[b, n]`` differs from every
    ``positions[b, m]`` with m < n.
  """
  same = tf.equal(positions[:, :, tf.newaxis], positions[:, tf.newaxis, :])
  n = tf.shape(positions)[1]
  earlier = tf.linalg.band_part(tf.ones([n, n], tf.bool), -1, 0)
  earlier = tf.logical_and(earlier, tf.logical_not(tf.eye(n, dtype=tf.bool)))
  return tf.logical_not(tf.reduce_any(tf.logical_and(same, earlier), -1))


def scatter_update(sequence, updates, positions, average_duplicates=False):
  """Writes ``updates`` into ``sequence`` at ``positions``.

  Updates to position 0 are ignored (position 0 is the [CLS] token, and
  unused prediction slots point there). When a position repeats in a row,
  only its first update is applied; with ``average_duplicates`` the repeated
  updates are summed and divided by their count, as the official code does
  (for int token ids, floor division: the "average" of two sampled ids is a
  token neither draw chose).

  Args:
    sequence: [B, L] or [B, L, D] tensor.
    updates: [B, N] or [B, N, D] tensor of the same dtype.
    positions: [B, N] int tensor.
    average_duplicates: the official averaging of repeated positions.

  Returns:
    (updated_sequence, updated_mask): the sequence with updates applied, and
    a [B, L] int32 tensor that is 1 where a value was written.
  """
  positions = tf.cast(positions, tf.int32)
  keep = positions > 0
  if not average_duplicates:
    keep = tf.logical_and(keep, first_occurrences(positions))
  batch, n = tf.shape(positions)[0], tf.shape(positions)[1]
  rows = tf.tile(tf.range(batch)[:, tf.newaxis], [1, n])
  indices = tf.stack([rows, positions], -1)
  seq_shape = tf.shape(sequence)
  counts = tf.scatter_nd(indices, tf.cast(keep, tf.int32), seq_shape[:2])
  keep_values = tf.cast(keep, updates.dtype)
  if updates.shape.rank == 3:
    keep_values = keep_values[:, :, tf.newaxis]
  written = tf.scatter_nd(indices, updates * keep_values, seq_shape)
  divisor = tf.cast(tf.maximum(counts, 1), written.dtype)
  if sequence.shape.rank == 3:
    divisor = divisor[:, :, tf.newaxis]
  if written.dtype.is_integer:
    written = tf.math.floordiv(written, divisor)
  else:
    written = written / divisor
  updated_mask = tf.minimum(counts, 1)
  select = tf.cast(updated_mask, tf.bool)
  if sequence.shape.rank == 3:
    select = select[:, :, tf.newaxis]
  return tf.where(select, written, sequence), updated_mask


def get_candidates_mask(
  input_ids, input_mask, special_ids, disallow_from_mask=None
):
  """Positions that may be masked: real tokens other than [CLS]/[SEP]/[MASK].

  Args:
    input_ids, input_mask: [B, L] int tensors.
    special_ids: a `SpecialIds`.
    disallow_from_mask: optional [B, L] bool tensor of positions to exclude.

  Returns:
    [B, L] bool tensor.
  """
  candidates = tf.cast(input_mask, tf.bool)
  for token_id in (special_ids.cls_id, special_ids.sep_id, special_ids.mask_id):
    candidates = tf.logical_and(candidates, tf.not_equal(input_ids, token_id))
  if disallow_from_mask is not None:
    candidates = tf.logical_and(candidates, tf.logical_not(disallow_from_mask))
  return candidates


def prediction_weights(
  candidates, input_mask, mask_prob, max_predictions_per_seq
):
  """[B, N] bool: which prediction slots of each example are used.

  ``max(1, min(N, round(num_tokens * mask_prob)))`` slots per example
  (num_tokens counts every real token, [CLS]/[SEP] included), none for an
  example without candidates (the official code divided by zero there).
  """
  n = max_predictions_per_seq
  num_tokens = tf.cast(tf.reduce_sum(input_mask, -1), tf.float32)
  num_to_predict = tf.maximum(
    1, tf.minimum(n, tf.cast(tf.round(num_tokens * mask_prob), tf.int32))
  )
  has_candidates = tf.reduce_any(candidates, -1)
  return tf.logical_and(
    tf.sequence_mask(num_to_predict, n), has_candidates[:, tf.newaxis]
  )


def mask(
  inputs,
  mask_prob,
  max_predictions_per_seq,
  special_ids,
  proposal_distribution=1.0,
  disallow_from_mask=None,
):
  """Dynamic uniform masking with the official semantics.

  Each example gets ``max(1, min(N, round(num_tokens * mask_prob)))``
  predictions (num_tokens counts every real token, [CLS]/[SEP] included),
  their positions drawn with replacement from the candidates by categorical
  sampling; 85% of the chosen positions become [MASK] and 15% keep their
  token. Unused prediction slots have position 0, id 0 and weight 0.

  Args:
    inputs: a `pretrain_data.Inputs` with input_ids/input_mask/segment_ids.
    mask_prob: fraction of tokens to mask.
    max_predictions_per_seq: N.
    special_ids: a `SpecialIds`.
    proposal_distribution: 1.0 for uniform masking, or [B, L] scores.
    disallow_from_mask: optional [B, L] bool tensor.

  Returns:
    `Inputs` with masked input_ids and masked_lm_positions/ids/weights [B, N].
  """
  n = max_predictions_per_seq
  input_ids = inputs.input_ids
  batch = tf.shape(input_ids)[0]
  candidates = get_candidates_mask(
    input_ids, inputs.input_mask, special_ids, disallow_from_mask
  )
  has_candidates = tf.reduce_any(candidates, -1)
  weights = prediction_weights(candidates, inputs.input_mask, mask_prob, n)
  masked_lm_weights = tf.cast(weights, tf.float32)

  sample_prob = proposal_distribution * tf.cast(candidates, tf.float32)
  sample_prob = tf.where(has_candidates[:, tf.newaxis], sample_prob, 1.0)
  sample_logits = tf.math.log(tf.stop_gradient(sample_prob))
  positions = tf.random.categorical(sample_logits, n, dtype=tf.int32)
  positions *= tf.cast(weights, tf.int32)

  return with_positions_masked(
    inputs, positions, weights, masked_lm_weights, special_ids, [batch, n]
  )


def with_positions_masked(
  inputs, positions, weights, masked_lm_weights, special_ids, shape
):
  """``inputs`` with 85% of ``positions`` (those of weight 1) set to
  [MASK] and the 15% others left as they are, and the masked_lm fields.

  Args:
    inputs: a `pretrain_data.Inputs`.
    positions: [B, N] int32 positions (0 for unused slots).
    weights: [B, N] bool or 0/1, the used slots.
    masked_lm_weights: [B, N] float32, the same as weights.
    special_ids: a `SpecialIds`.
    shape: [B, N] as a list (the shape of the random draws).
  """
  input_ids = inputs.input_ids
  masked_lm_ids = gather_positions(input_ids, positions)
  masked_lm_ids *= tf.cast(weights, masked_lm_ids.dtype)
  replace = tf.less(tf.random.uniform(shape), 0.85)
  replace_positions = positions * tf.cast(replace, tf.int32)
  mask_ids = tf.fill(shape, tf.cast(special_ids.mask_id, input_ids.dtype))
  masked_ids, _ = scatter_update(input_ids, mask_ids, replace_positions)
  return pretrain_data.get_updated_inputs(
    inputs,
    input_ids=tf.stop_gradient(masked_ids),
    masked_lm_positions=positions,
    masked_lm_ids=masked_lm_ids,
    masked_lm_weights=masked_lm_weights,
  )


def unmask(inputs):
  """Puts the original tokens back at the masked positions."""
  unmasked_ids, _ = scatter_update(
    inputs.input_ids, inputs.masked_lm_ids, inputs.masked_lm_positions
  )
  return pretrain_data.get_updated_inputs(inputs, input_ids=unmasked_ids)


def sample_from_softmax(logits, temperature=1.0, disallow=None):
  """Draws one token per row from softmax(logits / temperature).

  The official code adds Gumbel noise to every logit and takes the argmax;
  `sample_in_blocks` draws from the same distribution with two random
  numbers per row instead of one per vocabulary entry (a tiny pretraining
  step drew 12.8M of them).

  Args:
    logits: [..., V] float tensor.
    temperature: softmax temperature.
    disallow: optional [..., V] 0/1 tensor of tokens that must not be drawn
      (the official code subtracts 1000 from their logits).

  Returns:
    [...] int32 tensor of sampled token ids.
  """
  logits = tf.cast(logits, tf.float32)
  if temperature != 1.0:
    logits /= temperature
  if disallow is not None:
    logits -= 1000.0 * tf.cast(disallow, tf.float32)
  # at temperature 1 with nothing disallowed, the generator's loss takes
  # this log-softmax of the same logits and its gradient this exp: the
  # step computes each once
  log_probs = tf.nn.log_softmax(logits)
  probs = tf.exp(log_probs)
  vocab_size = logits.shape[-1] or tf.shape(logits)[-1]
  samples = sample_in_blocks(
    tf.reshape(log_probs, [-1, vocab_size]), tf.reshape(probs, [-1, vocab_size])
  )
  return tf.reshape(samples, tf.shape(logits)[:-1])


def block_size(vocab_size):
  """Entries per block of `sample_in_blocks`: the divisor of ``vocab_size``
  nearest its square root from above (21128 -> 139 blocks of 152), or
  ceil(sqrt) when no divisor lies within 2x of it (the rest is padded)."""
  root = math.isqrt(vocab_size - 1) + 1 if vocab_size > 1 else 1
  for size in range(root, 2 * root + 1):
    if vocab_size % size == 0:
      return size
  return root


def sample_in_blocks(log_probs, probs):
  """One id per row from a softmax, drawn in two stages.

  A block of ``block_size(V)`` consecutive ids is drawn with the
  probability of its share of the softmax (the sum of its ``probs``),
  then an id within it: P(block) * P(id | block) = probs[id], the same
  distribution as ``tf.random.categorical(log_probs)``, which walks every
  id of every row where the two stages walk ~2 * sqrt(V), on top of the
  log-softmax and exp that the generator's loss computes anyway.

  Args:
    log_probs: [N, V] float32 log-probabilities (log_softmax of logits).
    probs: [N, V] float32, exp(log_probs).

  Returns:
    [N] int32 ids in [0, V): a row of NaN logits (a diverging run) still
    gives an id in range, so that the non-finite loss stops training.
  """
  vocab_size = log_probs.shape[-1]
  if vocab_size is None:  # unknown vocabulary size: one stage
    samples = tf.random.categorical(log_probs, 1, dtype=tf.int32)[:, 0]
    return tf.minimum(samples, tf.shape(log_probs)[-1] - 1)
  size = block_size(vocab_size)
  count = -(-vocab_size // size)
  padding = count * size - vocab_size
  if padding:
    log_probs = tf.pad(
      log_probs, [[0, 0], [0, padding]], constant_values=-math.inf
    )
    probs = tf.pad(probs, [[0, 0], [0, padding]])
  block_probs = tf.reduce_sum(tf.reshape(probs, [-1, count, size]), -1)
  block = tf.random.categorical(tf.math.log(block_probs), 1, dtype=tf.int32)
  block = tf.minimum(block, count - 1)
  blocks = tf.reshape(log_probs, [-1, count, size])
  within = tf.gather(blocks, block, batch_dims=1)[:, 0]
  offset = tf.random.categorical(within, 1, dtype=tf.int32)[:, 0]
  samples = block[:, 0] * size + tf.minimum(offset, size - 1)
  return tf.minimum(samples, vocab_size - 1)


def special_ids_from_vocab(vocab):
  """The `SpecialIds` of a {token: id} vocabulary."""
  return SpecialIds(
    cls_id=vocab["[CLS]"], sep_id=vocab["[SEP]"], mask_id=vocab["[MASK]"]
  )
