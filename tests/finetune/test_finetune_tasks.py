"""CLUE task processors on the real files, by hand, and on bad input."""

import os

import pytest
from helpers import config_for
from helpers import write_jsonl

from conftest import shared_path
from finetune import classification
from finetune import clue_tasks
from finetune import readers
from finetune import task_builder


@pytest.fixture(scope="module")
def clue_config(tmp_path_factory):
  """A data dir whose finetuning_data/<task> point at ../shared/data/clue."""
  clue = shared_path("data", "clue")
  root = tmp_path_factory.mktemp("clue")
  os.makedirs(root / "finetuning_data")
  for name in os.listdir(clue):
    os.symlink(os.path.join(clue, name), root / "finetuning_data" / name)
  return config_for(root)


# (task, split, examples, label count); AFQMC train doubles (both orders)
REAL_COUNTS = [
  ("afqmc", "train", 10000, 2),  # one sentence order, as CLUE trains
  ("afqmc", "dev", 4316, 2),
  ("afqmc", "test", 3861, None),
  ("tnews", "train", 8000, 15),
  ("tnews", "dev", 4928, 15),
  ("iflytek", "train", 3024, None),
  ("iflytek", "test", 2600, None),
  ("cmnli", "train", 3, 3),
  ("cmnli", "test", 3, None),
  ("ocnli", "dev", 160, 3),
  ("ocnli", "test", 3000, None),
  ("cluewsc2020", "train", 1244, 2),
  ("cluewsc2020", "dev", 159, 2),
  ("cluewsc2020", "test", 290, None),
  ("csl", "train", 160, 2),
  ("csl", "dev", 160, 2),
  ("csl", "test", 3000, None),
]


@pytest.mark.parametrize("name,split,count,num_labels", REAL_COUNTS)
def test_real_clue_files(clue_config, name, split, count, num_labels):
  task = task_builder.get_task(clue_config, name)
  examples = task.get_examples(split)
  assert len(examples) == count
  if num_labels:
    labels = {e.label for e in examples}
    assert labels <= set(task.label_list) and len(labels) == num_labels
  else:
    assert all(e.label is None for e in examples) or split != "test"
  assert all(e.text_a for e in examples)


def test_ocnli_drops_unlabelled_rows(clue_config):
  task = task_builder.get_task(clue_config, "ocnli")
  path = task.split_path("train")
  rows = readers.read_jsonl(path)
  dashes = sum(1 for _, r in rows if r["label"] == "-")
  assert dashes > 0
  assert len(task.get_examples("train")) == len(rows) - dashes


def test_label_sets():
  config = config_for("/x")
  tnews = clue_tasks.TNEWS(config)
  assert len(tnews.label_list) == 15
  assert "105" not in tnews.label_list and "111" not in tnews.label_list
  assert clue_tasks.IFLYTEK(config).label_list[-1] == "118"
  assert clue_tasks.OCNLI(config).label_list == [
    "contradiction",
    "entailment",
    "neutral",
  ]


def test_wsc_marks_spans_like_the_reference_processor():
  text = "小明把书给了小红，因为她想看。"
  # noun before pronoun: _小红_ ... [她]
  assert clue_tasks.mark_wsc_spans(text, "小红", 6, "她", 11) == (
    "小明把书给了_小红_，因为[她]想看。"
  )
  # pronoun before noun: [他] ... _小明_
  text = "他说小明会来。"
  assert clue_tasks.mark_wsc_spans(text, "小明", 2, "他", 0) == (
    "[他]说_小明_会来。"
  )


def test_integer_labels_and_u2028_inside_lines(tmp_path):
  write_jsonl(
    tmp_path / "finetuning_data" / "tnews" / "train.json",
    [
      {"label": 100, "sentence": "第一\u2028行"},
      "",
      {"label": "116", "sentence": "第二行", "keywords": "x"},
    ],
  )
  examples = clue_tasks.TNEWS(config_for(tmp_path)).get_examples("train")
  assert [e.label for e in examples] == ["100", "116"]
  assert examples[0].text_a == "第一\u2028行"


@pytest.mark.parametrize(
  "rows,match",
  [
    ([{"label": "105", "sentence": "a"}], r"line 1: field 'label' is '105'"),
    ([{"label": "100"}], r"line 1: missing field 'sentence'"),
    (
      [{"label": "100", "sentence": "a"}, "{not json"],
      r"line 2: not valid JSON",
    ),
    (["[1, 2]"], r"line 1: expected a JSON object"),
    ([""], r"has no examples"),
  ],
)
def test_bad_files_name_file_line_and_field(tmp_path, rows, match):
  write_jsonl(tmp_path / "finetuning_data" / "tnews" / "train.json", rows)
  with pytest.raises(readers.DataFileError, match=match) as error:
    clue_tasks.TNEWS(config_for(tmp_path)).get_examples("train")
  assert "train.json" in str(error.value)


def test_missing_split_file(tmp_path):
  with pytest.raises(FileNotFoundError, match="dev.json does not exist"):
    clue_tasks.TNEWS(config_for(tmp_path)).get_examples("dev")


def test_wsc_span_not_at_index(tmp_path):
  write_jsonl(
    tmp_path / "finetuning_data" / "cluewsc2020" / "dev.json",
    [
      {
        "text": "他说小明会来。",
        "label": "true",
        "target": {
          "span1_text": "小明",
          "span1_index": 3,
          "span2_text": "他",
          "span2_index": 0,
        },
      }
    ],
  )
  with pytest.raises(readers.DataFileError, match="span1_text.*character 3"):
    clue_tasks.CLUEWSC2020(config_for(tmp_path)).get_examples("dev")


def test_csl_joins_keywords_and_afqmc_doubles(tmp_path):
  write_jsonl(
    tmp_path / "finetuning_data" / "csl" / "train.json",
    [{"id": 7, "abst": "摘要", "keyword": ["甲", "乙"], "label": "1"}],
  )
  example = clue_tasks.CSL(config_for(tmp_path)).get_examples("train")[0]
  assert (example.text_a, example.text_b, example.label) == (
    "甲 乙",
    "摘要",
    "1",
  )
  write_jsonl(
    tmp_path / "finetuning_data" / "afqmc" / "train.json",
    [{"sentence1": "a", "sentence2": "b", "label": "0"}],
  )
  single = clue_tasks.AFQMC(config_for(tmp_path))  # CLUE: one order
  assert len(single.get_examples("train")) == 1
  doubled = clue_tasks.AFQMC(config_for(tmp_path, double_unordered=True))
  examples = doubled.split_examples("train")
  assert [(e.text_a, e.text_b) for e in examples] == [("a", "b"), ("b", "a")]


def test_a_capped_train_split_keeps_the_swapped_copies(tmp_path):
  rows = [
    {"sentence1": f"a{i}", "sentence2": f"b{i}", "label": "0"}
    for i in range(40)
  ]
  write_jsonl(tmp_path / "finetuning_data" / "afqmc" / "train.json", rows)
  config = config_for(
    tmp_path, double_unordered=True, max_examples={"train": 5}
  )
  examples = clue_tasks.AFQMC(config).split_examples("train")
  pairs = [(e.text_a, e.text_b) for e in examples]
  assert pairs[:5] == [(f"a{i}", f"b{i}") for i in range(5)]
  assert pairs[5:] == [(f"b{i}", f"a{i}") for i in range(5)]
  assert [e.eid for e in examples] == list(range(10))


def test_pack_pair_truncates_the_longer_side():
  features = classification.pack_pair([5] * 10, [6] * 4, 1, 2, 12)
  assert features["input_ids"] == [1] + [5] * 5 + [2] + [6] * 4 + [2]
  assert features["segment_ids"] == [0] * 7 + [1] * 5
  single = classification.pack_pair([5] * 20, None, 1, 2, 8)
  assert single["input_ids"] == [1] + [5] * 6 + [2]
  short = classification.pack_pair([5], None, 1, 2, 5)
  assert short == {
    "input_ids": [1, 5, 2, 0, 0],
    "input_mask": [1, 1, 1, 0, 0],
    "segment_ids": [0] * 5,
  }


def test_unknown_task_lists_the_known_ones():
  with pytest.raises(ValueError, match="Unknown task 'chunk'.*tnews"):
    task_builder.get_tasks(config_for("/x", task_names=["chunk"]))


def test_scorer_binary_f1():
  import numpy as np

  scorer = classification.AccuracyScorer(2)
  scorer.update(
    {
      "label_ids": np.array([1, 1, 0, 0]),
      "predictions": np.array([1, 0, 1, 0]),
      "loss": np.array([1.0, 2.0, 3.0, 4.0]),
    }
  )
  results = scorer.get_results()
  assert results["accuracy"] == 50.0 and results["f1"] == 50.0
  assert results["loss"] == 2.5
