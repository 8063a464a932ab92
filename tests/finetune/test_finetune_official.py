"""Fine-tuning as the official code does it: HFL's task files, head
variable names, tagging features, padded epochs, debug caps, reporting."""

import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import config_for

from conftest import write_vocab
from finetune import driver
from finetune import preprocessing
from finetune import qa
from finetune import qa_head
from finetune import task as task_lib
from finetune import task_builder
from finetune import trial_state
from model import modeling
from model import tokenizers

# a few rows in each release's own layout (written for these tests)
HFL_ROWS = {
  "lcqmc": [
    ("text_a", "text_b", "label"),
    ("周末去哪里爬山比较好", "周末适合去哪座山爬山", "1"),
    ("这款耳机怎么连蓝牙", "耳机的电池能用多久", "0"),
  ],
  "bqcorpus": [
    ("text_a", "text_b", "label"),
    ("借款什么时候能到账", "申请的借款多久到账", "1"),
    ("为什么额度变少了", "怎么修改绑定的银行卡", "0"),
    ("还款日可以推迟吗", "我想晚几天还款", "1"),
  ],
  "chnsenticorp": [
    ("label", "text_a"),
    ("1", '房间很干净，前台"特别"热情，下次还来'),
    ("0", "快递太慢了，包装也压坏了"),
  ],
  "xnli": [
    ("premise", "hypo", "label"),
    ("他每天早上都去公园跑步", "他有晨跑的习惯", "entailment"),
    ("会议在下午三点开始", "会议已经取消了", "contradictory"),
  ],
}  # fmt: skip
XNLI_DEV = [
  ("language", "gold_label", "s1_bin", "s2_bin", "s1_parse", "s2_parse",
   "sentence1", "sentence2"),
  ("en", "neutral", "-", "-", "-", "-", "The shop opens at nine.",
   "The owner lives nearby."),
  ("zh", "contradiction", "-", "-", "-", "-", "商店九点开门。",
   "商店全天不营业。"),
]  # fmt: skip


def write_tsv(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("name", sorted(HFL_ROWS))
def test_hfl_task_files_in_their_released_layouts(tmp_path, name):
  rows = HFL_ROWS[name]
  write_tsv(tmp_path / "finetuning_data" / name / "train.tsv", rows)
  task = task_builder.get_task(config_for(tmp_path), name)
  examples = task.get_examples("train")
  assert len(examples) == len(rows) - 1  # the header is skipped
  first = rows[1]
  if name == "chnsenticorp":  # label first, one text
    assert (examples[0].text_a, examples[0].text_b) == (first[1], None)
  else:
    assert (examples[0].text_a, examples[0].text_b) == first[:2]
  labels = [e.label for e in examples]
  assert labels[0] == (first[0] if name == "chnsenticorp" else first[2])
  if name == "xnli":  # the translated data's spelling is read as official
    assert labels[1] == "contradiction"
  assert set(labels) <= set(task.label_list)


def test_xnli_dev_layout_keeps_chinese_rows(tmp_path):
  write_tsv(tmp_path / "finetuning_data" / "xnli" / "dev.tsv", XNLI_DEV)
  task = task_builder.get_task(config_for(tmp_path), "xnli")
  (example,) = task.get_examples("dev")
  assert example.text_a == "商店九点开门。" and example.label == "contradiction"


def test_drcd_is_qa_with_qa_defaults():
  config = config_for("/x", task_names=["drcd"])
  assert config.max_seq_length == 512
  task = task_builder.get_task(config, "drcd")
  assert isinstance(task, qa.QATask) and task.name == "drcd"


@pytest.mark.parametrize(
  "answerable, uses_start, names",
  [
    (False, True, ["dense", "dense_1", "qa_hidden"]),
    (True, True, ["dense", "dense_1", "dense_2", "dense_3", "qa_hidden"]),
    (True, False, ["dense", "dense_1", "dense_2", "qa_hidden"]),
  ],
)
def test_qa_head_has_the_official_variable_names(answerable, uses_start, names):
  head = qa_head.QAHead(
    "task_specific/cmrc2018", 12, True, answerable, uses_start
  )
  found = {name.split("/")[2] for name in modeling.variables_by_name(head)}
  assert sorted(found) == names


def test_joint_end_logits_equal_the_official_concatenation():
  head = qa_head.QAHead("task_specific/cmrc2018", 7, True)
  sequence = tf.random.stateless_normal([3, 5, 7], [1, 2])
  starts = tf.random.stateless_normal([3, 2, 7], [3, 4])
  # the official layer: dense over [start token; token], then dense_1
  pairs = tf.concat(
    [
      tf.broadcast_to(starts[:, :, None], [3, 2, 5, 7]),
      tf.broadcast_to(sequence[:, None], [3, 2, 5, 7]),
    ],
    -1,
  )
  official = head.qa_logits(head.qa_hidden(pairs))[..., 0]
  beam = head.end_given_starts(sequence, starts)
  np.testing.assert_allclose(beam, official, rtol=1e-5, atol=1e-5)
  one = head.end_given_start(sequence, starts[:, 1])
  np.testing.assert_allclose(one, official[:, 1], rtol=1e-5, atol=1e-5)


def test_no_answer_odds_are_the_minimum_over_windows(tmp_path):
  config = config_for(tmp_path, task_names=["cmrc2018"], max_answer_length=5)
  task = qa.QATask(config)
  task.has_unanswerable = True
  example = qa.qa_data.QAExample("cmrc2018", 0, "q", "问", "甲乙", ["甲"], 0)
  meta = [(example, {3: 0}, {3: True}, [(0, 0), (1, 1)])] * 2
  task.windows = lambda examples, tokenizer: (None, meta)
  outputs = {
    "eid": np.array([0, 1]),
    "start_logits": np.zeros([2, 4]),
    "end_logits": np.zeros([2, 4]),
    "no_answer_logit": np.array([5.0, -9.0]),  # one window holds the answer
  }
  answers, _ = task.predict_answers([example], outputs, None)
  assert answers == {"q": "甲"}


def test_tagging_features_as_the_official_task(tmp_path):
  vocab = write_vocab(str(tmp_path / "vocab.txt"), 40)
  tokenizer = tokenizers.get_tokenizer(vocab, True)
  config = config_for(tmp_path, task_names=["cluener"], max_seq_length=8)
  task = task_builder.get_task(config, "cluener")
  assert task.scheme == "BIOES" and "S-name" in task.tags
  example = task_lib.Example("cluener", 0, "ab", label=["B-name", "E-name"])
  (feature,) = task.featurize([example], tokenizer)
  assert feature["segment_ids"] == [1, 1, 1, 1, 0, 0, 0, 0]
  head = task.build_head(type("C", (), {"hidden_size": 6})())
  assert head.dropout_rate == 0.0


def write_tnews(root, count):
  directory = root / "finetuning_data" / "tnews"
  directory.mkdir(parents=True)
  rows = [
    json.dumps({"sentence": f"第{i}条新闻", "label": "100"}, ensure_ascii=False)
    for i in range(count)
  ]
  for split in ("train", "dev"):
    (directory / f"{split}.json").write_text("\n".join(rows), encoding="utf-8")


def test_training_data_is_padded_to_whole_batches(tmp_path, capsys):
  write_tnews(tmp_path, 21)
  vocab = write_vocab(str(tmp_path / "vocab.txt"))
  config = config_for(tmp_path, train_batch_size=8, log_examples=True)
  tasks = task_builder.get_tasks(config)
  preprocessor = preprocessing.Preprocessor(
    config, tasks, tokenizers.get_tokenizer(vocab, True)
  )
  path, count = preprocessor.prepare(tasks, "train", True)
  assert count == 24  # ceil(21 / 8) batches per epoch, as official
  out = capsys.readouterr().out
  assert "Wrote 21 train examples of ['tnews'] (+3 padding" in out
  assert "tnews train example: [CLS]" in out  # log_examples
  task_ids = [
    int(tf.train.Example.FromString(r.numpy()).features.feature["task_id"]
        .int64_list.value[0])
    for r in tf.data.TFRecordDataset(path)
  ]  # fmt: skip
  assert sorted(task_ids) == [0] * 21 + [1] * 3  # padding: no task


def test_debug_mode_reads_at_most_100_examples(tmp_path):
  write_tnews(tmp_path, 130)
  task = task_builder.get_task(config_for(tmp_path, debug=True), "tnews")
  assert len(task.split_examples("train")) == task_lib.DEBUG_EXAMPLES == 100
  full = task_builder.get_task(config_for(tmp_path), "tnews")
  assert len(full.split_examples("train")) == 130


def test_results_report_the_best_epoch_and_the_last(tmp_path):
  config = config_for(tmp_path)
  tracker = trial_state.EpochTracker(config)
  for epoch, accuracy in [(1, 50.0), (2, 70.0), (3, 60.0)]:
    tracker.add(None, epoch, {"tnews": {"accuracy": accuracy}})
  assert tracker.last == {"tnews": {"accuracy": 60.0}}
  assert tracker.best == {"epoch": 2, "results": {"tnews": {"accuracy": 70.0}}}
  second = {"epoch": 1, "results": {"tnews": {"accuracy": 60.0}}}
  driver.write_results(
    config,
    [tracker.last, {"tnews": {"accuracy": 55.0}}],
    [tracker.best, second],
  )
  text = open(config.results_txt).read()
  assert "trial 1 tnews (best epoch 2): accuracy: 70.00" in text
  assert "mean tnews (best epochs): accuracy: 65.00 (std 5.00)" in text
  assert "mean tnews: accuracy: 57.50 (std 2.50)" in text
  report = json.load(open(config.results_json))
  assert report["best_summary"]["tnews"]["accuracy"]["mean"] == 65.0


def test_num_tpu_cores_must_be_the_tpus():
  from training import distribution

  distribution.check_tpu_cores(config_for("/x", num_tpu_cores=8), 8)
  distribution.check_tpu_cores(config_for("/x"), 8)  # 1: not set
  with pytest.raises(ValueError, match="'num_tpu_cores' is 8 .* 4 cores"):
    distribution.check_tpu_cores(config_for("/x", num_tpu_cores=8), 4)
