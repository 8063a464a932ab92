"""CMRC 2018's official metric (v5 scorer), by hand and against a reference
implementation of the official script (when nltk is installed)."""

import random

import pytest

from finetune import qa_metrics
from finetune import treebank


@pytest.mark.parametrize(
  "prediction, gold, em",
  [
    ("Apple Inc", "Apple Inc.", 0.0),  # "." is not in the scorer's list
    ("(1)", "1", 0.0),  # nor are ASCII parentheses
    ("《北京》", "北京", 1.0),  # its own marks are removed
    ("北京 ", " 北京", 1.0),  # stripped
    ("北 京", "北京", 0.0),  # inner whitespace is kept
    ("ELECTRA", "electra", 1.0),  # lower-cased
    ("1……2", "12", 0.0),  # each "…" stays: the list holds "……" whole
  ],
)
def test_exact_match_removes_only_the_scorers_marks(prediction, gold, em):
  assert qa_metrics.exact_match(prediction, [gold]) == em


def test_f1_uses_mixed_segments():
  assert qa_metrics.mixed_segmentation("3.5亿元") == ["3.5", "亿", "元"]
  assert qa_metrics.mixed_segmentation("Apple Inc.") == ["apple", "inc", "."]
  assert qa_metrics.mixed_segmentation("（1）年") == ["1", "年"]
  assert qa_metrics.mixed_segmentation("a：b", remove_punctuation=False) == [
    "a", "：", "b",
  ]  # fmt: skip
  # LCS ["3.5", "亿"]: precision 2/2, recall 2/3 -> 0.8 (not 6/7)
  assert qa_metrics.f1_score("3.5亿", ["3.5亿元"]) == pytest.approx(0.8)
  # ["apple", "inc"] of ["apple", "inc", "."]: p 1, r 2/3
  assert qa_metrics.f1_score("Apple Inc", ["Apple Inc."]) == pytest.approx(0.8)
  assert qa_metrics.f1_score("北京天安门", ["天安门广场"]) == pytest.approx(0.6)
  assert qa_metrics.f1_score("上海", ["北京", "上海市"]) == pytest.approx(0.8)


def test_every_question_counts_and_unanswered_ones_score_zero():
  golds = {"q1": ["北京", "北京市"], "q2": ["广州"], "q3": ["上海"]}
  results = qa_metrics.evaluate(golds, {"q1": "北京", "q2": "上海"})
  assert results == {
    "em": pytest.approx(100 / 3),
    "f1": pytest.approx(100 / 3),
    "total": 3,
    "skip": 1,
  }


def test_unanswerable_questions_need_an_empty_prediction():
  assert qa_metrics.evaluate({"q": [""]}, {"q": ""})["em"] == 100.0
  assert qa_metrics.evaluate({"q": [""]}, {"q": "北京"})["f1"] == 0.0


def generated_strings(count, seed):
  """Answer-like strings mixing Chinese, English, digits and punctuation."""
  rng = random.Random(seed)
  pieces = (
    list("北京大学的年月日亿元人") + ["Apple", "Inc.", "U.S.", "3.5", "1,000",
    "(1)", "'s", "n't", "$", "%", "\"", "...", " ", "-", "：", "，", "《", "》",
    "……", "…", "ELECTRA", "v2", "?", "!"]
  )  # fmt: skip
  return [
    "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
    for _ in range(count)
  ]


def official_reference(golds, predictions, word_tokenize):
  """The official v5 script's logic, ported to Python 3 for this test."""
  sp_char = list(qa_metrics.SP_CHAR)

  def segments(text, rm_punc):
    out, temp = [], ""
    for char in str(text).lower().strip():
      if rm_punc and char in sp_char:
        continue
      if "\u4e00" <= char <= "\u9fa5" or char in sp_char:
        if temp:
          out.extend(word_tokenize(temp))
          temp = ""
        out.append(char)
      else:
        temp += char
    return out + (word_tokenize(temp) if temp else [])

  def lcs(s1, s2):
    m = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    best = 0
    for i in range(len(s1)):
      for j in range(len(s2)):
        if s1[i] == s2[j]:
          m[i + 1][j + 1] = m[i][j] + 1
          best = max(best, m[i + 1][j + 1])
    return best

  def f1(answers, prediction):
    scores = []
    for answer in answers:
      a, p = segments(answer, True), segments(prediction, True)
      common = lcs(a, p)
      if common == 0:
        scores.append(0)
        continue
      precision, recall = common / len(p), common / len(a)
      scores.append(2 * precision * recall / (precision + recall))
    return max(scores)

  def strip_marks(text):
    return "".join(c for c in str(text).lower().strip() if c not in sp_char)

  em = f1_total = 0.0
  for qid, answers in golds.items():
    if qid in predictions:
      f1_total += f1(answers, predictions[qid])
      em += any(
        strip_marks(a) == strip_marks(predictions[qid]) for a in answers
      )
  return 100 * em / len(golds), 100 * f1_total / len(golds)


def test_equal_to_the_official_script_on_generated_predictions():
  tokenize = (
    pytest.importorskip("nltk.tokenize", reason="nltk is not installed")
    .NLTKWordTokenizer()
    .tokenize
  )
  answers = generated_strings(300, seed=1)
  predictions = generated_strings(300, seed=2)
  golds = {f"q{i}": [a, answers[(i + 7) % 300]] for i, a in enumerate(answers)}
  # a third of the predictions are a gold answer with a small change
  preds = {
    f"q{i}": (answers[i] + "。" if i % 3 == 0 else p)
    for i, p in enumerate(predictions)
    if i % 17
  }
  ours = qa_metrics.evaluate(golds, preds)
  em, f1 = official_reference(golds, preds, tokenize)
  assert ours["em"] == pytest.approx(em) and ours["f1"] == pytest.approx(f1)
  assert ours["em"] > 20 and 0 < ours["f1"] < 100


def test_our_word_tokenizer_equals_nltks():
  tokenize = (
    pytest.importorskip("nltk.tokenize", reason="nltk is not installed")
    .NLTKWordTokenizer()
    .tokenize
  )
  rng = random.Random(3)
  alphabet = list("abXY09 .,:;()[]'\"$%&!?-*@#") + [
    "n't", "'s", "cannot", "gonna", "...", "--", "“", "”", "’", "«", "inc.",
  ]  # fmt: skip
  for _ in range(3000):
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
    assert treebank.word_tokenize(text) == tokenize(text), text
