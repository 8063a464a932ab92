"""Serving a multiple-choice task: every option of a question packed and
scored in the graph, as the task's featurization does in Python.

``serving_default`` takes ``context`` and ``question`` [batch] strings and
``choices`` [batch, options] strings ("" where a question has fewer
options). Each option is packed ``[CLS] context [SEP] question option
[SEP]``, the context cut first, then the question; for a cloze task
(CHID) the context's ``#idiom#`` is the asked blank, which becomes
[MASK] tokens, numbered blanks ``#idiom000123#`` become the placeholder
the trainer uses, and a cut context is a window around the blank. It
returns ``logits`` and ``probabilities`` [batch, options] (padded options
at probability 0) and ``label`` [batch] (the chosen option's index).
"""

import tensorflow as tf

from interop import text_serving
from model import choice_packing


def ragged_slice(ragged, starts, lengths):
  """Row i of ``ragged`` [rows, (n)] from ``starts[i]``, ``lengths[i]``
  long."""
  offsets = tf.cast(ragged.row_splits[:-1], tf.int32) + starts
  positions = tf.ragged.range(offsets, offsets + lengths)
  return tf.gather(ragged.flat_values, positions)


def window_starts(len_context, kept, center):
  """Where each kept context starts: 0, or for a cloze a window around
  ``center`` (`choice_packing.context_window`)."""
  if center is None:
    return tf.zeros_like(kept)
  start = tf.minimum(center - kept // 2, len_context - kept)
  return tf.maximum(start, 0)


def _lengths(ragged):
  return tf.cast(ragged.row_lengths(), tf.int32)


class MultipleChoiceServing(text_serving.TaskServing):
  """Scores the options of each question; see the module docstring."""

  def text_inputs(self):
    return ["context", "question", "choices"]

  def choice_logits(self, input_ids, input_mask, segment_ids):
    """[batch, options, seq_len] ids -> masked [batch, options] logits (an
    option whose mask row is all zero is padding)."""
    length = tf.shape(input_ids)[2]
    inputs = (input_ids, input_mask, segment_ids)
    rows = [tf.reshape(x, [-1, length]) for x in inputs]
    present = tf.cast(tf.reduce_max(input_mask, -1) > 0, tf.int32)
    return choice_packing.masked_choice_logits(self.logits(*rows), present)

  def outputs(self, logits):
    return {
      "logits": logits,
      "probabilities": tf.nn.softmax(logits),
      "label": tf.argmax(logits, -1, output_type=tf.int32),
    }

  def ids_signatures(self):
    ids = [
      tf.TensorSpec([None, None, None], tf.int32, name=name)
      for name in ("input_ids", "input_mask", "segment_ids")
    ]
    function = tf.function(
      lambda a, b, c: self.outputs(self.choice_logits(a, b, c))
    )
    return {"choose": function.get_concrete_function(*ids)}

  def context_tokens(self, context):
    """(ragged [batch, (tokens)] ids, asked blank's middle or None)."""
    if not self.spec.cloze:
      return self.tokenizer.tokenize_tensor(context), None
    context = tf.strings.regex_replace(
      context, choice_packing.CLUE_BLANK.pattern, choice_packing.OTHER_BLANK
    )
    pieces = tf.strings.split(context, choice_packing.FEWCLUE_BLANK)
    one_blank = tf.debugging.assert_equal(
      pieces.row_lengths(),
      tf.cast(2, pieces.row_splits.dtype),
      message=f"a cloze context needs one {choice_packing.FEWCLUE_BLANK}",
    )
    with tf.control_dependencies([one_blank]):
      pieces = pieces.to_tensor("", shape=[None, 2])
    before = self.tokenizer.tokenize_tensor(pieces[:, 0])
    after = self.tokenizer.tokenize_tensor(pieces[:, 1])
    width = choice_packing.IDIOM_WIDTH
    masks = tf.fill(
      [tf.shape(context)[0], width], self.tokenizer.vocab["[MASK]"]
    )
    masks = tf.RaggedTensor.from_tensor(tf.cast(masks, before.dtype))
    tokens = tf.concat([before, masks, after], axis=1)
    return tokens, _lengths(before) + width // 2

  def pack(self, context, question, choices):
    """[batch * options] packed rows (ragged pieces concatenated)."""
    options = tf.shape(choices)[1]
    context_ids, center = self.context_tokens(context)
    row_of = tf.repeat(tf.range(tf.shape(choices)[0]), options)
    context_ids = tf.gather(context_ids, row_of)
    question_ids = tf.gather(self.tokenizer.tokenize_tensor(question), row_of)
    choice_ids = self.tokenizer.tokenize_tensor(tf.reshape(choices, [-1]))
    n_context, n_question, n_choice = choice_packing.fit_lengths(
      _lengths(context_ids), _lengths(question_ids), _lengths(choice_ids),
      self.max_seq_length - 3, tf.minimum,
    )  # fmt: skip
    if center is not None:
      center = tf.gather(center, row_of)
    starts = window_starts(_lengths(context_ids), n_context, center)
    first = ragged_slice(context_ids, starts, n_context)
    zeros = tf.zeros_like(n_choice)
    second = tf.concat(
      [
        ragged_slice(question_ids, zeros, n_question),
        ragged_slice(choice_ids, zeros, n_choice),
      ],
      axis=1,
    )
    column = lambda token: tf.RaggedTensor.from_tensor(
      tf.fill([tf.shape(row_of)[0], 1], tf.cast(token, first.dtype))
    )
    cls, sep = column(self.cls_id), column(self.sep_id)
    head = tf.concat([cls, first, sep], axis=1)
    tail = tf.concat([second, sep], axis=1)
    ids = tf.cast(tf.concat([head, tail], axis=1), tf.int32)
    segments = tf.concat(
      [tf.zeros_like(head, tf.int32), tf.ones_like(tail, tf.int32)], axis=1
    )
    present = tf.reshape(tf.strings.length(choices) > 0, [-1])
    keep = tf.cast(present, tf.int32)[:, tf.newaxis]
    dense = [x.to_tensor(0) for x in (ids, tf.ones_like(ids), segments)]
    shape = [-1, options, tf.shape(dense[0])[1]]
    return tuple(tf.reshape(x * keep, shape) for x in dense)

  def serve(self, context, question, choices):
    return self.outputs(
      self.choice_logits(*self.pack(context, question, choices))
    )

  def signatures(self):
    sigs = self.ids_signatures()
    if self.tokenizer is not None:
      sigs["serving_default"] = tf.function(self.serve).get_concrete_function(
        tf.TensorSpec([None], tf.string, name="context"),
        tf.TensorSpec([None], tf.string, name="question"),
        tf.TensorSpec([None, None], tf.string, name="choices"),
      )
    return sigs
