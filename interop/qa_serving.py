"""Serving span-extraction QA from text: windows, spans and answers in the
graph, as the QA task's featurization and predictor do in Python.

`QAServing.serve` takes ``question`` and ``context`` [batch] strings:
1. the context is split into words (each CJK character and punctuation
   mark a word, runs of other characters whole, whitespace dropped) and
   each word into word pieces; the question is cut to max_query_length;
2. the context's tokens are covered by windows of the room left by the
   question, ``doc_stride`` apart, each packed ``[CLS] question [SEP]
   window [SEP]``; each token counts in the window that gives it the most
   context;
3. the head scores spans in every window (the beam of starts and ends of
   the joint head, or the best starts and ends), spans outside the
   context, reversed, longer than max_answer_length or starting in a
   token another window serves better are dropped, and the best span over
   the windows is the answer; with unanswerable questions in its training
   data, the minimum no-answer logit over the windows above
   ``qa_na_threshold`` means no answer.
It returns ``answer`` (the context's characters, "" for none),
``answer_start`` (its first character's offset in ``context``, -1 for
none) and ``score`` (the span's, -inf for none).
"""

import functools
import sys

import numpy as np
import tensorflow as tf

from interop import serving_ops
from interop import text_serving
from model import fast_tokenization
from model import packing
from model import tokenization

# windows scored at once: bounds the memory of a long context
CHUNK = 16
NO_SPAN = -1e30  # the score of an invalid span


@functools.cache
def space_class():
  """RE2 class of the characters the QA word split drops (``isspace`` or
  the official whitespace)."""
  members = np.array(
    [
      chr(cp).isspace() or tokenization.is_whitespace(chr(cp))
      for cp in range(sys.maxunicode + 1)
    ]
  )
  return fast_tokenization._class(members)


def context_words(contexts):
  """(words, first, last): ragged [batch, (words)] strings and the index of
  each word's first and last character in its context."""
  chars = tf.strings.unicode_split(contexts, "UTF-8")
  flat = chars.flat_values
  classes = fast_tokenization.character_classes()
  space = tf.strings.regex_full_match(flat, space_class())
  single = tf.strings.regex_full_match(
    flat, f"{classes['cjk']}|{classes['punctuation']}"
  )
  index = serving_ops.positions_in_rows(chars)
  at_row_start = tf.equal(index, 0)
  after_gap = tf.roll(space | single, 1, axis=0) & ~at_row_start
  starts = ~space & (single | at_row_start | after_gap)
  word = tf.cumsum(tf.cast(starts, tf.int32)) - 1
  keep = ~space
  count = tf.reduce_sum(tf.cast(starts, tf.int32))
  words = tf.strings.unsorted_segment_join(flat[keep], word[keep], count)
  first = tf.math.unsorted_segment_min(index[keep], word[keep], count)
  last = tf.math.unsorted_segment_max(index[keep], word[keep], count)
  per_row = tf.reduce_sum(
    tf.cast(chars.with_flat_values(starts), tf.int64), axis=1
  )
  return tuple(
    tf.RaggedTensor.from_row_lengths(values, per_row)
    for values in (words, first, last)
  )


def _at_least_one_column(matrix):
  return tf.pad(matrix, [[0, 0], [0, tf.maximum(1 - tf.shape(matrix)[1], 0)]])


def _tokens_of_words(tokenizer, words):
  """(tokens, token_word): ragged [batch, (tokens)] ids of the words, and
  the word (index in its row) each token comes from."""
  pieces = tokenizer.tokenize_tensor(words.flat_values)
  word_index = tf.gather(
    serving_ops.positions_in_rows(words), pieces.value_rowids()
  )
  tokens = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)
  token_word = tf.RaggedTensor.from_row_splits(
    pieces.with_flat_values(word_index), words.row_splits
  )
  return tokens.merge_dims(1, 2), token_word.merge_dims(1, 2)


def window_layout(doc_lengths, rooms, stride):
  """The windows of every context (as `qa_data.window_starts`).

  Args:
    doc_lengths, rooms: [batch] int32 context tokens and window room.
    stride: doc_stride.

  Returns:
    (example, number, start, length): [windows] int32 each.
  """
  step = tf.minimum(stride, rooms)
  extra = tf.maximum(0, doc_lengths - rooms)
  count = 1 + (extra + step - 1) // step
  number = tf.ragged.range(count).flat_values
  example = tf.repeat(tf.range(tf.size(count)), count)
  start = number * tf.gather(step, example)
  length = tf.minimum(
    tf.gather(rooms, example), tf.gather(doc_lengths, example) - start
  )
  return example, number, start, tf.maximum(length, 0)


def max_context(example, number, start, length, doc_lengths):
  """[windows, (length)] bool: the window gives the token the most context
  of all windows holding it (the lowest-numbered on a tie), as
  `qa_data.best_windows`."""
  j = tf.ragged.range(length)
  score = tf.cast(
    tf.minimum(j, length[:, tf.newaxis] - 1 - j), tf.float64
  ) + 0.01 * tf.cast(length[:, tf.newaxis], tf.float64)
  offsets = tf.cumsum(doc_lengths, exclusive=True)
  token = (tf.gather(offsets, example) + start)[:, tf.newaxis] + j
  total = tf.reduce_sum(doc_lengths)
  best = tf.math.unsorted_segment_max(
    score.flat_values, token.flat_values, total
  )
  is_best = tf.equal(score.flat_values, tf.gather(best, token.flat_values))
  numbers = tf.gather(number, score.value_rowids())
  lowest = tf.math.unsorted_segment_min(
    tf.where(is_best, numbers, tf.int32.max), token.flat_values, total
  )
  chosen = is_best & tf.equal(numbers, tf.gather(lowest, token.flat_values))
  return score.with_flat_values(chosen)


class QAServing(text_serving.TaskServing):
  """Span-extraction QA: ``question``, ``context`` -> the answer."""

  def text_inputs(self):
    return ["question", "context"]

  def ids_signatures(self):
    return {}

  def windows(self, question, context):
    """The packed windows [windows, max_seq_length] of every question, and
    what maps them back: example, offset of the context, the word of each
    context position, max-context flags, and the words' characters."""
    settings = self.spec.qa
    # a question leaves room for at least one context token (training
    # needs that too: its windows would never advance)
    cut = min(settings["max_query_length"], self.max_seq_length - 4)
    query = self.tokenizer.tokenize_tensor(question)[:, :cut]
    words, first, last = context_words(context)
    doc, doc_word = _tokens_of_words(self.tokenizer, words)
    offset = tf.cast(query.row_lengths(), tf.int32) + 2
    rooms = tf.maximum(self.max_seq_length - offset - 1, 1)
    doc_lengths = tf.cast(doc.row_lengths(), tf.int32)
    example, number, start, length = window_layout(
      doc_lengths, rooms, settings["doc_stride"]
    )
    take = (tf.cast(tf.gather(doc.row_splits, example), tf.int32) + start)[
      :, tf.newaxis
    ] + tf.ragged.range(length)
    packed = packing.pack_ragged_pair(
      tf.gather(query, example),
      tf.gather(doc.flat_values, take),
      self.cls_id,
      self.sep_id,
      self.max_seq_length,
    )
    width = self.max_seq_length - tf.shape(packed[0])[1]
    packed = [tf.pad(x, [[0, 0], [0, width]]) for x in packed]
    layout = {
      "example": example,
      "offset": tf.gather(offset, example),
      "length": length,
      # at least one column, for windows without context
      "word": _at_least_one_column(
        tf.gather(doc_word.flat_values, take).to_tensor(0)
      ),
      "max_context": _at_least_one_column(
        max_context(example, number, start, length, doc_lengths).to_tensor(
          False
        )
      ),
      "first": first,
      "last": last,
    }
    return packed, layout

  def span_scores(self, sequence, input_mask, segment_ids):
    """(score, start, end) [windows, candidates] as the task's head and
    predictor rank them; and the no-answer logits [windows] (or None)."""
    settings, head = self.spec.qa, self.head
    allowed = tf.cast(input_mask * segment_ids, tf.float32)
    allowed += tf.one_hot(0, tf.shape(allowed)[1])
    block = 1000.0 * (allowed - 1.0)
    start_logits = tf.cast(head.start(sequence)[..., 0], tf.float32) + block
    no_answer = None
    if head.answerable:
      no_answer = head.no_answer_logit(sequence, start_logits)
    if head.joint:
      beam = settings["beam_size"]
      start_lp, starts = tf.math.top_k(tf.nn.log_softmax(start_logits), beam)
      reprs = tf.gather(sequence, starts, batch_dims=1)
      end_logits = head.end_given_starts(sequence, reprs) + block[:, tf.newaxis]
      end_lp, ends = tf.math.top_k(tf.nn.log_softmax(end_logits), beam)
      score = start_lp[:, :, tf.newaxis] + end_lp
      starts = tf.broadcast_to(starts[:, :, tf.newaxis], tf.shape(ends))
    else:
      n = settings["n_best_size"]
      end_logits = tf.cast(head.end(sequence)[..., 0], tf.float32) + block
      start_top, starts = tf.math.top_k(start_logits, n)
      end_top, ends = tf.math.top_k(end_logits, n)
      score = start_top[:, :, tf.newaxis] + end_top[:, tf.newaxis]
      starts = tf.broadcast_to(starts[:, :, tf.newaxis], tf.shape(score))
      ends = tf.broadcast_to(ends[:, tf.newaxis], tf.shape(score))
    flat = lambda x: tf.reshape(x, [tf.shape(x)[0], -1])
    return (flat(score), flat(starts), flat(ends)), no_answer

  def valid_spans(self, starts, ends, layout):
    """[windows, candidates] bool: inside the context, in order, not too
    long, starting where this window gives the most context."""
    s = starts - layout["offset"][:, tf.newaxis]
    e = ends - layout["offset"][:, tf.newaxis]
    length = layout["length"][:, tf.newaxis]
    inside = (s >= 0) & (s < length) & (e >= 0) & (e < length)
    limit = self.spec.qa["max_answer_length"]
    ok = inside & (e >= s) & (e - s + 1 <= limit)
    most = tf.gather(
      layout["max_context"],
      tf.clip_by_value(s, 0, tf.maximum(length - 1, 0)),
      batch_dims=1,
    )
    return ok & most, s, e

  def scored_windows(self, ids, mask, segments):
    """`span_scores` of the windows, CHUNK windows at a time (a long
    context has many, each scoring its seq_len tokens against a beam of
    starts)."""
    count = tf.shape(ids)[0]
    size = tf.minimum(CHUNK, count)  # no padding up to CHUNK windows
    chunks = (count + size - 1) // size
    pad = chunks * size - count

    def chunked(x):
      x = tf.pad(x, [[0, pad], [0, 0]])
      return tf.reshape(x, [chunks, size, self.max_seq_length])

    def one_chunk(chunk):
      ids, mask, segments = chunk
      (score, starts, ends), no_answer = self.span_scores(
        self.encode(ids, mask, segments), mask, segments
      )
      if no_answer is None:
        no_answer = tf.zeros([size])
      return score, starts, ends, no_answer

    outputs = tf.map_fn(
      one_chunk,
      (chunked(ids), chunked(mask), chunked(segments)),
      fn_output_signature=(tf.float32, tf.int32, tf.int32, tf.float32),
    )
    outputs = [tf.reshape(x, [chunks * size, -1])[:count] for x in outputs]
    no_answer = outputs[3][:, 0] if self.head.answerable else None
    return (outputs[0], outputs[1], outputs[2]), no_answer

  def serve(self, question, context):
    (ids, mask, segments), layout = self.windows(question, context)
    (score, starts, ends), no_answer = self.scored_windows(ids, mask, segments)
    valid, s, e = self.valid_spans(starts, ends, layout)
    return self.best_answers(question, context, score, valid, s, e, layout,
                             no_answer)  # fmt: skip

  def best_answers(self, question, context, score, valid, s, e, layout,
                   no_answer):  # fmt: skip
    """The best valid span over each question's windows, as text."""
    batch = tf.shape(question)[0]
    candidates = tf.shape(score)[1]
    example = tf.repeat(layout["example"], candidates)
    # a finite floor: an empty segment's maximum is the lowest float
    score = tf.reshape(tf.where(valid, score, NO_SPAN), [-1])
    best = tf.math.unsorted_segment_max(score, example, batch)
    index = tf.range(tf.size(score))
    chosen = tf.math.unsorted_segment_min(
      tf.where(tf.equal(score, tf.gather(best, example)), index, tf.int32.max),
      example,
      batch,
    )
    found = best > NO_SPAN
    if no_answer is not None and self.spec.qa["has_unanswerable"]:
      null = tf.math.unsorted_segment_min(no_answer, layout["example"], batch)
      found &= ~(null > self.spec.qa["qa_na_threshold"])
    chosen = tf.where(found, chosen, 0)
    window = chosen // candidates
    words = tf.gather(layout["word"], window)

    def word(positions):
      at = tf.gather(tf.reshape(positions, [-1]), chosen)
      at = tf.clip_by_value(at, 0, tf.shape(words)[1] - 1)
      return tf.gather(words, at, batch_dims=1)

    def char(bounds, index):
      bounds = _at_least_one_column(bounds.to_tensor(0))
      index = tf.clip_by_value(index, 0, tf.shape(bounds)[1] - 1)
      return tf.gather(bounds, index, batch_dims=1)

    first = char(layout["first"], word(s))
    last = char(layout["last"], word(e))
    answer = tf.strings.substr(
      context, first, last - first + 1, unit="UTF8_CHAR"
    )
    return {
      "answer": tf.where(found, answer, ""),
      "answer_start": tf.where(found, first, -1),
      "score": tf.where(found, best, -np.inf),
    }
