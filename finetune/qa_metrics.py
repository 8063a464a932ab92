"""CMRC 2018's official metrics: EM and F1 over mixed segmentation.

Chinese is compared character by character, while runs of English letters
and digits stay whole words; punctuation is removed; F1 comes from the
longest common substring; each is the maximum over the gold answers,
averaged over questions and reported in %.
"""

import re
import unicodedata

_PUNCTUATION = set("-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』")


def mixed_segmentation(text):
  """'ELECTRA模型12个' -> ['electra', '模', '型', '12', '个']."""
  segments, word = [], ""
  for char in text.lower().strip():
    if re.match(r"[a-z0-9]", char):
      word += char
      continue
    if word:
      segments.append(word)
      word = ""
    if char.strip() and not _is_punctuation(char):
      segments.append(char)
  if word:
    segments.append(word)
  return segments


def _is_punctuation(char):
  return char in _PUNCTUATION or unicodedata.category(char).startswith("P")


def remove_punctuation(text):
  return "".join(
    c for c in text.lower().strip() if c.strip() and not _is_punctuation(c)
  )


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


def f1_score(prediction, gold):
  pred, ref = mixed_segmentation(prediction), mixed_segmentation(gold)
  if not pred and not ref:
    return 1.0  # both say "no answer"
  common = longest_common_substring(pred, ref)
  if not common:
    return 0.0
  precision, recall = common / len(pred), common / len(ref)
  return 2 * precision * recall / (precision + recall)


def exact_match(prediction, gold):
  return float(remove_punctuation(prediction) == remove_punctuation(gold))


def evaluate(predictions, golds):
  """{"em", "f1"} in % over {qid: [gold answers]} given {qid: prediction}."""
  em = f1 = 0.0
  for qid, answers in golds.items():
    prediction = predictions.get(qid, "")
    em += max(exact_match(prediction, a) for a in answers)
    f1 += max(f1_score(prediction, a) for a in answers)
  count = max(len(golds), 1)
  return {"em": 100.0 * em / count, "f1": 100.0 * f1 / count}
