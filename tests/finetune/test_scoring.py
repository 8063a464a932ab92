"""score_predictions.py: each task family scored from files, by hand, with
the functions the dev scorers use; and the metrics themselves."""

import json

import numpy as np
import pytest
from helpers import write_jsonl

import score_predictions
from finetune import classification
from finetune import readers
from finetune import regression


def write_lines(path, rows):
  path.write_text(
    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
    encoding="utf-8",
  )
  return str(path)


def test_classification_accuracy_from_files(tmp_path):
  gold = tmp_path / "dev.json"
  write_jsonl(
    gold,
    [{"sentence": f"标题{i}", "label": label} for i, label in
     enumerate(["100", "101", "102", "100"])],
  )  # fmt: skip
  # dev rows carry no id: the id is the example's position
  predictions = write_lines(
    tmp_path / "p.json",
    [{"id": 0, "label": "100"}, {"id": 1, "label": "102"},
     {"id": 3, "label": "100"}],
  )  # fmt: skip
  results = score_predictions.score("tnews", str(gold), predictions)
  assert results == {"accuracy": 50.0, "missing": 1}


def test_a_predicted_label_outside_the_task_is_an_error(tmp_path):
  gold = tmp_path / "dev.json"
  write_jsonl(gold, [{"sentence1": "a", "sentence2": "b", "label": "1"}])
  predictions = write_lines(tmp_path / "p.json", [{"id": 0, "label": "yes"}])
  with pytest.raises(readers.DataFileError, match="p.json: id 0 has label"):
    score_predictions.score("afqmc", str(gold), predictions)


def test_cluener_entities_from_files(tmp_path):
  gold = write_lines(
    tmp_path / "dev.json",
    [
      {"id": 0, "text": "张三在北京", "label": {"name": {"张三": [[0, 1]]},
                                           "address": {"北京": [[3, 4]]}}},
      {"id": 1, "text": "李四", "label": {"name": {"李四": [[0, 1]]}}},
    ],
  )  # fmt: skip
  predictions = write_lines(
    tmp_path / "cluener_predict.json",
    [
      {"id": 0, "label": {"name": {"张三": [[0, 1]]},
                          "goverment": {"北京": [[3, 4]]}}},
      {"id": 1, "label": {"name": {"李四": [[0, 1]]}}},
    ],
  )  # fmt: skip
  results = score_predictions.score("cluener", gold, predictions)
  # 2 of 3 predicted entities right, 2 of 3 gold found
  assert results["precision"] == pytest.approx(200 / 3)
  assert results["recall"] == pytest.approx(200 / 3)
  assert results["name_f1"] == 100.0 and results["address_f1"] == 0.0
  assert results["government_f1"] == 0.0  # the release's spelling is read


def test_cmrc_from_files_prints_one_json_line(tmp_path, capsys):
  gold = tmp_path / "dev.json"
  gold.write_text(
    json.dumps({"data": [{"paragraphs": [{
      "context": "苹果公司总部在库比蒂诺，市值3.5亿元。",
      "qas": [
        {"id": "q1", "question": "总部？", "answers": [
          {"text": "库比蒂诺", "answer_start": 6}]},
        {"id": "q2", "question": "市值？", "answers": [
          {"text": "3.5亿元", "answer_start": 14}]},
        {"id": "q3", "question": "谁？", "answers": [
          {"text": "苹果公司", "answer_start": 0}]},
      ]}]}]}, ensure_ascii=False),
    encoding="utf-8",
  )  # fmt: skip
  predictions = tmp_path / "preds.json"
  predictions.write_text(json.dumps({"q1": "库比蒂诺", "q2": "3.5亿"}))
  score_predictions.main(
    ["--task", "cmrc2018", "--gold", str(gold),
     "--predictions", str(predictions)]
  )  # fmt: skip
  printed = capsys.readouterr().out.strip().splitlines()
  assert len(printed) == 1
  assert json.loads(printed[0]) == {
    "em": pytest.approx(100 / 3),
    "f1": pytest.approx(100 * 1.8 / 3),
    "total": 3,
    "skip": 1,
  }


def test_matthews_correlation_by_hand():
  labels, preds = [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1]
  # tp 2, tn 2, fp 1, fn 1: (4 - 1) / sqrt(3 * 3 * 3 * 3)
  assert classification.matthews_correlation(labels, preds) == pytest.approx(
    100 / 3
  )
  assert classification.matthews_correlation([1, 1], [1, 1]) == 0.0
  assert classification.matthews_correlation([0, 1, 2], [0, 1, 2]) == 100.0


def test_regression_metrics_by_hand():
  targets = [1.0, 2.0, 3.0, 4.0]
  results = regression.regression_metrics(targets, [2.0, 4.0, 6.0, 7.0])
  assert results["spearman"] == pytest.approx(100.0)
  assert results["pearson"] == pytest.approx(
    100 * np.corrcoef(targets, [2, 4, 6, 7])[0, 1]
  )
  assert results["mse"] == pytest.approx((1 + 4 + 9 + 9) / 4)
  # ties share their average rank
  tied = regression.regression_metrics([1, 2, 2, 3], [1, 5, 5, 9])
  assert tied["spearman"] == pytest.approx(100.0)
  assert regression.regression_metrics([1, 1], [2, 3])["pearson"] == 0.0


def test_custom_regression_and_mcc_tasks_score_files(tmp_path):
  rows = ["s1\ts2\tscore", "猫在睡觉\t猫睡着了\t4.5", "今天下雨\t股票上涨\t0.2",
          "他在跑步\t他在走路\t2.6"]  # fmt: skip
  (tmp_path / "dev.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
  predictions = write_lines(
    tmp_path / "p.json",
    [{"id": 0, "label": 4.0}, {"id": 1, "label": 1.0}, {"id": 2, "label": 3.0}],
  )
  spec = {"type": "regression", "format": "tsv", "data_dir": str(tmp_path),
          "text_a": "s1", "text_b": "s2", "label": "score",
          "min_value": 0, "max_value": 5}  # fmt: skip
  results = score_predictions.score(
    "sts",
    str(tmp_path / "dev.tsv"),
    predictions,
    {"custom_tasks": {"sts": spec}},
  )
  assert results["spearman"] == pytest.approx(100.0)
  assert results["mse"] == pytest.approx((0.25 + 0.64 + 0.16) / 3)
