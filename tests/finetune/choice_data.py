"""C3 and CHID files written for the tests from the demo corpus (both of
CHID's layouts; C3 questions with 2, 3 and 4 options)."""

import json
import os

from helpers import DEMO_FINETUNE_RUN
from helpers import demo_sentences
from helpers import write_jsonl

# the demo encoder from random weights, trained a few steps
CHOICE_RUN = dict(DEMO_FINETUNE_RUN, max_seq_length=29, train_batch_size=4)

IDIOMS = [
  "一帆风顺", "三心二意", "井井有条", "半途而废", "水滴石穿", "画蛇添足",
  "守株待兔", "亡羊补牢", "对牛弹琴", "胸有成竹", "雪中送炭", "熟能生巧",
]  # fmt: skip


def c3_documents(count, start=0, labelled=True, with_ids=False):
  """``count`` documents of two lines each, one question with 2, 3 or 4
  options per document (the answer among them when ``labelled``)."""
  sentences = demo_sentences()
  documents = []
  for i in range(start, start + count):
    lines = [sentences[i % len(sentences)], sentences[(i + 7) % len(sentences)]]
    options = [
      f"{k}{sentences[(i + 3 + k) % len(sentences)][:5]}"
      for k in range(2 + i % 3)
    ]
    question = {"question": sentences[(i + 11) % len(sentences)][:8]}
    question["choice"] = options
    if labelled:
      question["answer"] = options[i % len(options)]
    if with_ids:
      question["id"] = i
    documents.append([lines, [question], f"doc-{i}"])
  return documents


def write_c3(root, sizes=(("train", 24), ("dev", 10)), test=6):
  """``<root>/finetuning_data/c3`` in C3's release layout."""
  directory = os.path.join(root, "finetuning_data", "c3")
  os.makedirs(directory, exist_ok=True)
  start = 0
  for split, size in sizes:
    half = size // 2
    for prefix, count in (("d", half), ("m", size - half)):
      path = os.path.join(directory, f"{prefix}-{split}.json")
      write_json(path, c3_documents(count, start))
      start += count
  write_json(
    os.path.join(directory, "test.json"),
    c3_documents(test, start, labelled=False, with_ids=True),
  )
  return directory


def write_json(path, value):
  with open(path, "w", encoding="utf-8") as f:
    json.dump(value, f, ensure_ascii=False)


def chid_passage(sentences, i, blanks):
  """A passage of demo sentences with ``blanks`` numbered blanks."""
  parts = []
  for k, blank in enumerate(blanks):
    parts.append(sentences[(i + k) % len(sentences)] + blank)
  return "".join(parts) + sentences[(i + 5) % len(sentences)]


def write_chid_clue(root, sizes=(("train", 8), ("dev", 4), ("test", 3))):
  """CLUE's CHID layout: rows with two passages (1 and 3 blanks), 10
  candidates, answers in ``<split>_answer.json``. Returns {split: {blank:
  answer}}."""
  sentences = demo_sentences()
  directory = os.path.join(root, "finetuning_data", "chid")
  number, answers = 0, {}
  for split, size in sizes:
    rows, answers[split] = [], {}
    for i in range(size):
      passages = []
      for count in (1, 3):
        blanks = [f"#idiom{number + k:06d}#" for k in range(count)]
        number += count
        passages.append(chid_passage(sentences, i + count, blanks))
        for k, blank in enumerate(blanks):
          answers[split][blank] = (i + k) % 10
      candidates = IDIOMS[i % 2 : i % 2 + 10]
      rows.append({"candidates": candidates, "content": passages})
    write_jsonl(os.path.join(directory, f"{split}.json"), rows)
    if split != "test":
      write_json(
        os.path.join(directory, f"{split}_answer.json"), answers[split]
      )
  return answers


def write_chid_fewclue(root, sizes=(("train", 10), ("dev", 5), ("test", 4))):
  """FewCLUE's layout: one blank a row, 7 candidates, the answer inline."""
  sentences = demo_sentences()
  directory = os.path.join(root, "finetuning_data", "chid")
  for split, size in sizes:
    rows = []
    for i in range(size):
      row = {
        "id": 100 * len(split) + i,
        "candidates": IDIOMS[i % 3 : i % 3 + 7],
        "content": chid_passage(sentences, i, ["#idiom#"]),
      }
      if split != "test":
        row["answer"] = i % 7
      rows.append(row)
    name = "test.json" if split == "test" else f"{split}_few_all.json"
    write_jsonl(os.path.join(directory, name), rows)
