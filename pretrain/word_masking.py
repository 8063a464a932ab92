"""Whole-word and span masking, the options beside the official per-token
masking of `pretrain_helpers.mask` (the default), as pure tensor functions.

Words come per token as ``word_ids`` [B, L]: the index of the token's word
within its sequence, increasing along it, -1 for [CLS], [SEP] and padding
(see build_pretraining_dataset.py --word-segmentation). Both options mask
whole words, without repeats, until a budget of tokens is spent: the
official count, ``max(1, min(N, round(num_tokens * mask_prob)))``.

- whole_word: words in a random order; a word longer than the budget left
  is skipped (as BERT-wwm does) and the next one tried.
- span: SpanBERT's spans: a length of 1-10 words from the geometric law
  p = 0.2 truncated at 10 and renormalised (mean 3.8 words), a start word
  drawn uniformly; a span running past the budget is cut to the whole words
  that fit, and a span overlapping earlier ones is dropped. Without word ids
  each token is a word (spans of tokens).

As in the official masking, 85% of the chosen positions become [MASK] and
15% keep their token (ELECTRA's generator makes the replacements).
"""

import tensorflow as tf

from pretrain import pretrain_helpers

SPAN_P = 0.2
MAX_SPAN_WORDS = 10
# draws of spans per step of a batch before the budget left is given up
SPAN_ATTEMPTS_PER_PREDICTION = 4


def span_length_law(p=SPAN_P, longest=MAX_SPAN_WORDS):
  """[longest] float32: P(length = 1..longest), geometric, renormalised."""
  lengths = tf.range(1, longest + 1, dtype=tf.float32)
  weights = p * (1.0 - p) ** (lengths - 1.0)
  return weights / tf.reduce_sum(weights)


def sample_span_lengths(count, p=SPAN_P, longest=MAX_SPAN_WORDS):
  """[count] int32 span lengths in 1..longest drawn from `span_length_law`
  (by inverting its cumulative distribution)."""
  cumulative = tf.cumsum(span_length_law(p, longest))
  uniform = tf.random.uniform([count]) * cumulative[-1]
  draws = tf.searchsorted(cumulative, uniform, side="right", out_type=tf.int32)
  return tf.minimum(draws, longest - 1) + 1


def word_lengths(word_ids, candidates):
  """[B, L] int32: at [b, w] the number of candidate tokens of word w.

  Args:
    word_ids: [B, L] int, -1 for tokens of no word.
    candidates: [B, L] bool, the tokens that may be masked.
  """
  batch, length = tf.shape(word_ids)[0], tf.shape(word_ids)[1]
  valid = tf.logical_and(candidates, word_ids >= 0)
  slots = tf.where(valid, word_ids, length)  # slot L: tokens of no word
  rows = tf.range(batch)[:, tf.newaxis] * (length + 1)
  counts = tf.math.unsorted_segment_sum(
    tf.cast(valid, tf.int32), rows + slots, batch * (length + 1)
  )
  return tf.reshape(counts, [batch, length + 1])[:, :length]


def greedy_take(lengths, budget):
  """Takes words in order while they fit, skipping those that do not.

  Args:
    lengths: [B, W] int32 tokens per word (0: no word) in the order to try.
    budget: [B] int32 tokens to spend.

  Returns:
    [B, W] bool: the words taken.
  """
  by_word = tf.transpose(lengths)  # [W, B]
  count = tf.shape(by_word)[0]

  def keep_going(i, remaining, _):
    return tf.logical_and(i < count, tf.reduce_any(remaining > 0))

  def take_next(i, remaining, taken):
    size = by_word[i]
    take = tf.logical_and(size > 0, size <= remaining)
    taken = tf.tensor_scatter_nd_update(taken, [[i]], take[tf.newaxis])
    return i + 1, remaining - tf.where(take, size, 0), taken

  _, _, taken = tf.while_loop(
    keep_going,
    take_next,
    (tf.constant(0), budget, tf.zeros_like(by_word, tf.bool)),
  )
  return tf.transpose(taken)


def whole_word_choice(lengths, budget):
  """[B, W] bool: whole words taken in a random order (see module doc)."""
  exists = lengths > 0
  keys = tf.where(exists, tf.random.uniform(tf.shape(lengths)), 2.0)
  order = tf.argsort(keys, axis=1)
  taken = greedy_take(tf.gather(lengths, order, batch_dims=1), budget)
  return tf.gather(taken, tf.argsort(order, axis=1), batch_dims=1)


def span_choice(lengths, budget, attempts):
  """[B, W] bool: the words of SpanBERT spans (see module doc).

  Args:
    lengths: [B, W] int32 tokens per word (0: no word).
    budget: [B] int32 tokens to spend.
    attempts: spans drawn per example at most.
  """
  exists = lengths > 0
  batch, count = tf.shape(lengths)[0], tf.shape(lengths)[1]
  word = tf.range(count)[tf.newaxis, :]
  # words are numbered from 0 along the sequence: a start is a uniform
  # draw below the last word's index + 1 (a row without words takes none)
  words_in_row = tf.reduce_max(tf.where(exists, word + 1, 0), 1)

  def keep_going(i, remaining, taken):
    # a row goes on while one of its free words fits the budget left
    fits = exists & ~taken & (lengths <= remaining[:, tf.newaxis])
    return tf.logical_and(i < attempts, tf.reduce_any(fits))

  def draw_span(i, remaining, taken):
    size = sample_span_lengths(batch)[:, tf.newaxis]
    start = tf.cast(
      tf.random.uniform([batch]) * tf.cast(words_in_row, tf.float32), tf.int32
    )[:, tf.newaxis]
    in_span = (word >= start) & (word < start + size) & exists
    spent = tf.cumsum(tf.where(in_span, lengths, 0), axis=1)
    fits = in_span & (spent <= remaining[:, tf.newaxis])
    accept = tf.reduce_any(fits, 1) & ~tf.reduce_any(fits & taken, 1)
    new = fits & accept[:, tf.newaxis]
    used = tf.reduce_sum(tf.where(new, lengths, 0), 1)
    return i + 1, remaining - used, taken | new

  _, _, taken = tf.while_loop(
    keep_going,
    draw_span,
    (tf.constant(0), budget, tf.zeros_like(exists)),
  )
  return taken


def chosen_positions(chosen_tokens, max_predictions):
  """[B, N] positions of the chosen tokens (in order, 0 past the last) and
  their [B, N] float32 weights; at most N may be chosen per row."""
  length = tf.shape(chosen_tokens)[1]
  score = tf.where(chosen_tokens, length - tf.range(length)[tf.newaxis], 0)
  values, positions = tf.math.top_k(score, k=max_predictions)
  weights = values > 0
  return positions * tf.cast(weights, tf.int32), tf.cast(weights, tf.float32)


def mask_words(
  inputs, word_ids, masking, mask_prob, max_predictions_per_seq, special_ids
):
  """Whole-word or span masking of a batch.

  Args:
    inputs: a `pretrain_data.Inputs` with input_ids/input_mask/segment_ids.
    word_ids: [B, L] int word index of each token (-1: none), or None for
      span masking of tokens.
    masking: "whole_word" or "span".
    mask_prob, max_predictions_per_seq, special_ids: as `pretrain_helpers.mask`.

  Returns:
    `Inputs` with masked input_ids and masked_lm_positions/ids/weights [B, N].
  """
  n = max_predictions_per_seq
  input_ids = inputs.input_ids
  candidates = pretrain_helpers.get_candidates_mask(
    input_ids, inputs.input_mask, special_ids
  )
  budget = tf.reduce_sum(
    tf.cast(
      pretrain_helpers.prediction_weights(
        candidates, inputs.input_mask, mask_prob, n
      ),
      tf.int32,
    ),
    1,
  )
  if word_ids is None:  # each token its own word
    word_ids = tf.where(candidates, tf.range(tf.shape(input_ids)[1]), -1)
  word_ids = tf.cast(word_ids, tf.int32)
  lengths = word_lengths(word_ids, candidates)
  if masking == "whole_word":
    chosen_words = whole_word_choice(lengths, budget)
  else:
    attempts = n * SPAN_ATTEMPTS_PER_PREDICTION
    chosen_words = span_choice(lengths, budget, attempts)
  chosen_tokens = (word_ids >= 0) & candidates & tf.gather(
    chosen_words, tf.maximum(word_ids, 0), batch_dims=1
  )  # fmt: skip
  positions, weights = chosen_positions(chosen_tokens, n)
  return pretrain_helpers.with_positions_masked(
    inputs, positions, weights, weights, special_ids,
    [tf.shape(positions)[0], n],
  )  # fmt: skip
