"""The multiple-choice input layout, shared by the trainer and serving.

Each option of a question is packed ``[CLS] context [SEP] question option
[SEP]`` (segment 0, then 1): when it does not fit, the context gives way
first, then the question; a cloze context (CHID) keeps a window around the
asked blank, which is `IDIOM_WIDTH` [MASK] tokens. Padded options get the
logit `MASKED_LOGIT`, so they never change a question's probabilities.
"""

import re

import tensorflow as tf

from model import packing

# the logit of a padded option: exp() of it is exactly 0 in float32
MASKED_LOGIT = -1e30
IDIOM_WIDTH = 4  # the [MASK] tokens that stand for a cloze blank
CLUE_BLANK = re.compile(r"#idiom\d+#")  # CLUE's numbered CHID blanks
FEWCLUE_BLANK = "#idiom#"  # FewCLUE's blank, and the asked one in serving
OTHER_BLANK = "_"  # what the blanks other than the asked one become


def fit_lengths(len_context, len_question, len_choice, room, minimum=min):
  """How many tokens of context, question and option fit in ``room``.

  The context gives way first, then the question (from its end); the
  option is cut only when it alone does not fit. ``minimum`` is ``min``
  for ints, ``tf.minimum`` for [rows] tensors.
  """
  choice = minimum(len_choice, room)
  question = minimum(len_question, room - choice)
  context = minimum(len_context, room - choice - question)
  return context, question, choice


def context_window(ids, center, length):
  """``length`` ids of ``ids`` around position ``center`` (a cloze blank):
  as many on each side as there are, the start kept when all fit."""
  if len(ids) <= length:
    return list(ids)
  start = max(0, min(center - length // 2, len(ids) - length))
  return list(ids[start : start + length])


def pack_choice(context_ids, question_ids, choice_ids, ids, max_length,
                center=None):  # fmt: skip
  """``[CLS] context [SEP] question option [SEP]``, padded.

  Args:
    context_ids, question_ids, choice_ids: token ids of the three texts.
    ids: {"[CLS]": id, "[SEP]": id}.
    max_length: the packed length.
    center: the middle of the asked blank in ``context_ids``: a cut
      context is a window around it instead of its beginning.
  """
  room = max_length - 3
  n_context, n_question, n_choice = fit_lengths(
    len(context_ids), len(question_ids), len(choice_ids), room
  )
  if center is None:
    context = list(context_ids[:n_context])
  else:
    context = context_window(context_ids, center, n_context)
  second = list(question_ids[:n_question]) + list(choice_ids[:n_choice])
  return packing.pack(context, second, ids["[CLS]"], ids["[SEP]"], max_length)


def masked_choice_logits(row_logits, choice_mask):
  """[batch * choices, 1] row scores -> [batch, choices] logits, padded
  options at `MASKED_LOGIT`."""
  logits = tf.reshape(row_logits, tf.shape(choice_mask))
  return tf.where(choice_mask > 0, logits, MASKED_LOGIT)
