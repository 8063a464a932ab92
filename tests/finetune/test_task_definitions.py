"""What a task writes and scores follows its definition, never which
splits a process happened to read."""

import os

import numpy as np
import pytest
from helpers import config_for
from helpers import write_cmrc

from finetune import classification
from finetune import conll
from finetune import head_specs
from finetune import readers
from finetune import tagging
from finetune import task_builder


def test_cluener_submissions_use_the_release_spelling_unread():
  """A predict-only run reads no labelled file: the spelling is the same."""
  task = tagging.CLUENER(config_for("/x", task_names=["cluener"]))
  example = tagging.task.Example("cluener", 0, "国务院", guid=7)
  tags = ["B-government", "I-government", "I-government"]
  outputs = {
    "eid": np.array([0]),
    "predictions": np.array([[0] + [task.tag_ids[t] for t in tags] + [0]]),
    "chars": np.array([[-1, 0, 1, 2, -1]]),
  }
  (line,) = task.submission_lines([example], outputs, None)
  assert line == {"id": 7, "label": {"goverment": {"国务院": [[0, 2]]}}}
  spec = head_specs.describe(task)
  assert spec.scheme == "BIOES"
  assert spec.spelling == {"government": "goverment"}


def test_qa_abstains_by_its_hparam_not_by_the_data_read(tmp_path):
  write_cmrc(tmp_path, unanswerable=True)
  config = config_for(tmp_path, task_names=["cmrc2018"])
  task = task_builder.get_task(config, "cmrc2018")
  assert head_specs.describe(task).qa["has_unanswerable"] is False
  with pytest.raises(readers.DataFileError, match="qa_has_unanswerable"):
    task.get_examples("train")
  config = config_for(
    tmp_path, task_names=["cmrc2018"], qa_has_unanswerable=True
  )
  task = task_builder.get_task(config, "cmrc2018")
  # before any split is read
  assert head_specs.describe(task).qa["has_unanswerable"] is True
  assert any(e.is_impossible for e in task.get_examples("train"))


def test_conll_sentences_get_distinct_ids(tmp_path):
  os.makedirs(tmp_path / "ner")
  (tmp_path / "ner" / "test.txt").write_text(
    "甲 B-x\n乙 I-x\n\n丙 O\n\n丁 B-x\n", encoding="utf-8"
  )
  task = conll.ConllTaggingTask(
    config_for(tmp_path), "ner",
    {"data_dir": str(tmp_path / "ner"), "entity_types": ["x"]},
  )  # fmt: skip
  examples = task.get_examples("test")
  assert [e.guid for e in examples] == [0, 1, 2]


def test_cluewsc_scores_the_true_class():
  # label 0 is "true": two gold, one predicted right, one predicted wrongly
  labels, preds = [0, 0, 1, 1], [0, 1, 0, 1]
  config = config_for("/x", task_names=["cluewsc2020"])
  task = task_builder.get_task(config, "cluewsc2020")
  assert task.label_list[task.positive] == "true"
  results = classification.accuracy_metrics(labels, preds, 2, task.positive)
  assert results["precision"] == 50.0 and results["recall"] == 50.0
  assert classification.accuracy_metrics([0, 0], [0, 1], 2, 0)["recall"] == 50
  assert classification.accuracy_metrics([0, 0], [0, 1], 2, 1)["recall"] == 0


@pytest.mark.parametrize("placeholder", ["-1", "0", ""])
def test_an_unlabelled_test_tsv_keeps_a_placeholder_first_row(
  tmp_path, placeholder
):
  directory = tmp_path / "finetuning_data" / "lcqmc"
  os.makedirs(directory)
  rows = [f"问{i}\t答{i}\t{placeholder}" for i in range(3)]
  (directory / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
  task = task_builder.get_task(config_for(tmp_path), "lcqmc")
  examples = task.get_examples("test")
  assert [(e.text_a, e.guid) for e in examples] == [
    ("问0", 0), ("问1", 1), ("问2", 2)
  ]  # fmt: skip
  (directory / "test.tsv").write_text(
    "text_a\ttext_b\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8"
  )
  assert len(task.get_examples("test")) == 3  # a header is skipped


def test_a_submission_whose_ids_repeat_is_refused(tmp_path):
  lines = [{"id": 1, "label": "a"}, {"id": "1", "label": "b"}]
  task = task_builder.get_task(config_for(tmp_path), "tnews")
  with pytest.raises(ValueError, match="two examples have the id"):
    tagging.task.check_distinct_ids(task, lines)
  path = tmp_path / "p.json"
  path.write_text('{"id": 1}\n{"id": 1}\n', encoding="utf-8")
  with pytest.raises(readers.DataFileError, match="line 2: id 1 was given"):
    readers.read_predictions(str(path))


def test_a_regression_teacher_of_another_value_range_is_refused(tmp_path):
  from finetune import custom_tasks
  from finetune import teacher as teacher_lib

  def task(high):
    spec = {"text_a": "a", "label": "y", "min_value": 0, "max_value": high}
    return custom_tasks.CustomRegressionTask(config_for(tmp_path), "sim", spec)

  head_specs.write_descriptions(str(tmp_path), [task(5)])
  teacher_lib.check_labels(str(tmp_path), [task(5)])  # the same range
  with pytest.raises(ValueError, match=r"values scaled by \(max, min\)"):
    teacher_lib.check_labels(str(tmp_path), [task(10)])
