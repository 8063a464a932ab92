"""SQuAD-format QA data: reading, word splitting and windows.

The context is split into words with every CJK character and punctuation
mark a word of its own and runs of letters/digits kept whole, so predicted
spans map back to the exact characters of the context. Long contexts are
covered by overlapping windows; each token is scored in the window that
gives it the most context (BERT's rule).
"""

import dataclasses
import json
from typing import Optional

import tensorflow as tf

from finetune import readers
from model import tokenization


@dataclasses.dataclass
class QAExample:
  task_name: str
  eid: int
  qid: str
  question: str
  context: str
  answers: list
  start_char: Optional[int] = None  # of the first answer (training)
  is_impossible: bool = False  # SQuAD 2.0-style unanswerable question


def split_words(context):
  """(words, [(first char, last char)] of each word)."""
  words, spans = [], []
  for i, char in enumerate(context):
    single = tokenization.is_cjk(char) or tokenization.is_punctuation(char)
    if char.isspace() or tokenization.is_whitespace(char):
      continue
    if (
      single
      or not words
      or spans[-1][1] != i - 1
      or (
        tokenization.is_cjk(context[spans[-1][1]])
        or tokenization.is_punctuation(context[spans[-1][1]])
      )
    ):
      words.append(char)
      spans.append((i, i))
    else:
      words[-1] += char
      spans[-1] = (spans[-1][0], i)
  return words, spans


def locate_answer(context, text, start):
  """The answer's character offset: ``start`` when the text is there, else
  its nearest occurrence (real CMRC files count some offsets in UTF-16
  units, so characters outside the BMP shift them), else None."""
  if context[start : start + len(text)] == text:
    return start
  found = [i for i in range(len(context)) if context.startswith(text, i)]
  return min(found, key=lambda i: abs(i - start)) if found else None


def read_squad(path, task_name, training):
  """The questions of a SQuAD-format file; a malformed one is an error
  naming the file (and the question, when the problem is in one)."""
  with tf.io.gfile.GFile(path, "rb") as f:
    raw = f.read()
  try:
    data = json.loads(raw.decode("utf-8-sig"))["data"]
    return _squad_examples(data, path, task_name, training)
  except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
    if isinstance(e, readers.DataFileError):
      raise
    raise readers.DataFileError(
      f"{path}: not SQuAD-format JSON ({type(e).__name__}: {e})"
    ) from None


def _squad_examples(data, path, task_name, training):
  examples = []
  for article in data:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        examples.append(_question(qa, paragraph, path, task_name, training))
        examples[-1].eid = len(examples) - 1
  if not examples:
    raise readers.DataFileError(f"{path} holds no questions")
  return examples


def _question(qa, paragraph, path, task_name, training):
  answers = [a["text"] for a in qa.get("answers", [])]
  start = qa["answers"][0]["answer_start"] if answers else None
  impossible = bool(qa.get("is_impossible", False))
  if training and answers and not impossible:
    start = locate_answer(paragraph["context"], answers[0], start)
    if start is None:
      raise readers.DataFileError(
        f"{path}: question {readers.shown(qa['id'])}: answer "
        f"{readers.shown(answers[0])} does "
        f"not occur in its context"
      )
  return QAExample(
    task_name, 0, qa["id"], qa["question"], paragraph["context"], answers,
    start, impossible,
  )  # fmt: skip


def window_starts(doc_length, room, stride):
  """Start offsets of the windows covering a document of doc_length tokens."""
  starts, start = [], 0
  while True:
    starts.append(start)
    if start + room >= doc_length:
      return starts
    start += min(stride, room)


def best_windows(doc_length, starts, room):
  """For each token, the window giving it the most context (BERT's rule:
  the larger of its left and right context, plus 0.01 x window length)."""
  best = [0] * doc_length
  for i in range(doc_length):
    scores = []
    for number, start in enumerate(starts):
      length = min(room, doc_length - start)
      if start <= i < start + length:
        scores.append(
          (min(i - start, start + length - 1 - i) + 0.01 * length, -number)
        )
    best[i] = -max(scores)[1]
  return best
