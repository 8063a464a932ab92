"""CMRC 2018's official metric (``cmrc2018_evaluate.py`` v5), also DRCD's.

Both sides are lower-cased and stripped. EM compares the two strings after
removing only the scorer's fixed punctuation list `SP_CHAR` (so "Apple
Inc" != "Apple Inc." and "(1)" != "1"). F1 compares "mixed segments":
each Chinese character (U+4E00..U+9FA5) is one segment, `SP_CHAR` marks are
dropped, and every other run is split by NLTK's word tokenizer (ours:
`treebank.word_tokenize`); precision and recall come from the longest
common contiguous run of segments. Each is the maximum over the gold
answers and the average over every question, unanswered ones counting 0.
"""

from finetune import treebank

# the scorer's list; "……" is one entry of two characters, so a single "…"
# is never removed (the scorer compares character by character)
SP_CHAR = (
  "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
  "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……",
  "·", "、", "「", "」", "（", "）", "－", "～", "『", "』",
)  # fmt: skip


def _is_chinese(char):
  return "\u4e00" <= char <= "\u9fa5"


def mixed_segmentation(text, remove_punctuation=True):
  """'3.5亿元' -> ['3.5', '亿', '元']; 'Apple Inc.' -> ['apple', 'inc', '.']."""
  segments, run = [], ""
  for char in str(text).lower().strip():
    if remove_punctuation and char in SP_CHAR:
      continue
    if _is_chinese(char) or char in SP_CHAR:
      segments += treebank.word_tokenize(run) if run else []
      run = ""
      segments.append(char)
    else:
      run += char
  return segments + (treebank.word_tokenize(run) if run else [])


def remove_punctuation(text):
  return "".join(c for c in str(text).lower().strip() if c not in SP_CHAR)


def longest_common_substring(a, b):
  """Length of the longest common contiguous run of two sequences."""
  best, previous = 0, [0] * (len(b) + 1)
  for x in a:
    current = [0] * (len(b) + 1)
    for j, y in enumerate(b, 1):
      if x == y:
        current[j] = previous[j - 1] + 1
        best = max(best, current[j])
    previous = current
  return best


def _f1(prediction, answer):
  pred, gold = mixed_segmentation(prediction), mixed_segmentation(answer)
  common = longest_common_substring(gold, pred)
  if not common:
    return 0.0
  precision, recall = common / len(pred), common / len(gold)
  return 2 * precision * recall / (precision + recall)


def f1_score(prediction, answers):
  """The best F1 (0..1) of ``prediction`` against any gold answer.

  A question without an answer (SQuAD 2.0-style data, which the CMRC
  scorer does not have) has ``answers == [""]``: only "" scores 1 there.
  """
  if answers == [""]:
    return float(str(prediction).strip() == "")
  return max(_f1(prediction, answer) for answer in answers)


def exact_match(prediction, answers):
  """1.0 when ``prediction`` equals a gold answer (punctuation removed)."""
  if answers == [""]:
    return float(str(prediction).strip() == "")
  target = remove_punctuation(prediction)
  return float(any(remove_punctuation(a) == target for a in answers))


def evaluate(golds, predictions):
  """The official scores.

  Args:
    golds: {question id: [gold answer texts]} of every question.
    predictions: {question id: predicted text}; missing ids score 0.
  Returns:
    {"em", "f1"} in %, and "total" and "skip" (questions without a
    prediction), as the official script reports them.
  """
  em = f1 = 0.0
  skip = 0
  for qid, answers in golds.items():
    if qid not in predictions:
      skip += 1
      continue
    em += exact_match(predictions[qid], answers)
    f1 += f1_score(predictions[qid], answers)
  total = max(len(golds), 1)
  return {
    "em": 100.0 * em / total,
    "f1": 100.0 * f1 / total,
    "total": len(golds),
    "skip": skip,
  }
