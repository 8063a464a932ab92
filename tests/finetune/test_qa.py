"""Span-extraction QA (CMRC 2018): words, windows, alignment, metrics."""

import json
import os

import pytest
from helpers import write_cmrc

import configure_finetuning
from conftest import ROOT
from conftest import finetune_main
from conftest import shared_path
from finetune import qa
from finetune import qa_data
from finetune import qa_metrics
from model import tokenization

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")


def config_for(data_dir, **hparams):
  hparams.setdefault("task_names", ["cmrc2018"])
  return configure_finetuning.FinetuningConfig("m", str(data_dir), **hparams)


def test_split_words_keeps_english_and_numbers_whole():
  words, spans = qa_data.split_words("ELECTRA模型有14M参数, ok")
  assert words == ["ELECTRA", "模", "型", "有", "14M", "参", "数", ",", "ok"]
  assert spans[4] == (10, 12) and spans[-1] == (17, 18)


def test_windows_and_max_context():
  assert qa_data.window_starts(10, 4, 3) == [0, 3, 6]
  assert qa_data.window_starts(3, 4, 3) == [0]
  best = qa_data.best_windows(10, [0, 3, 6], 4)
  # windows 0-3, 3-6, 6-9: a token at the edge of two windows has no
  # context on one side in either, and the first window wins the tie
  assert best == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_defaults_for_qa():
  config = config_for("/x")
  assert config.max_seq_length == 512 and config.num_train_epochs == 2.0
  assert (
    config.max_query_length,
    config.doc_stride,
    config.n_best_size,
    config.max_answer_length,
  ) == (64, 128, 20, 30)


@pytest.mark.slow
def test_real_trial_answers_map_back_exactly(tmp_path):
  """Every answer of the trial file comes back from its own token span,
  except answers whose first or last character is inside a run of letters
  or digits that the file's annotators cut (such answers cannot be spans of
  whole words; the official code drops them from training too)."""
  source = shared_path("data", "qa", "cmrc2018")
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  os.makedirs(tmp_path / "finetuning_data" / "cmrc2018")
  os.symlink(
    os.path.join(source, "trial.json"),
    tmp_path / "finetuning_data" / "cmrc2018" / "train.json",
  )
  task = qa.QATask(config_for(tmp_path))  # max_seq_length 512, as for QA
  examples = task.get_examples("train")
  assert len(examples) == 1002
  features, meta = task.windows(examples, tokenization.FullTokenizer(vocab))
  assert len(features) > len(examples)  # long contexts need several windows
  recovered, cut = {}, set()
  for example in examples:
    _, spans = qa_data.split_words(example.context)
    starts = {a for a, _ in spans}
    ends = {b for _, b in spans}
    text = example.answers[0]
    first = example.start_char + len(text) - len(text.lstrip())
    last = example.start_char + len(text.rstrip()) - 1
    if first not in starts or last not in ends:
      cut.add(example.qid)
  for feature, (example, token_word, _, spans) in zip(features, meta):
    start, end = feature["cmrc2018_start"], feature["cmrc2018_end"]
    if start:
      recovered[example.qid] = example.context[
        spans[token_word[start]][0] : spans[token_word[end]][1] + 1
      ]
  for example in examples:
    if example.qid in cut:
      continue
    assert recovered[example.qid] == example.answers[0].strip(), example.qid
  assert sorted(cut) == ["TRIAL_749_QUERY_0"]  # "AXR" cut out of "JAXR"


@pytest.mark.slow
@pytest.mark.parametrize("unanswerable", [False, True])
def test_cmrc_end_to_end(tmp_path, unanswerable):
  write_cmrc(tmp_path, unanswerable)
  hparams = {
    "task_names": ["cmrc2018"],
    "init_checkpoint": None,
    "debug": True,
    "vocab_size": 2244,
    "max_seq_length": 64,
    "doc_stride": 24,
    "train_batch_size": 8,
    "num_train_epochs": 2.0,
    "write_test_outputs": True,
    "qa_has_unanswerable": unanswerable,
  }
  results = finetune_main(tmp_path, hparams)
  assert set(results[0]["cmrc2018"]) == {"em", "f1", "loss"}
  results_dir = tmp_path / "models" / "m" / "results"
  predictions = json.load(open(results_dir / "cmrc2018_dev_predictions.json"))
  assert set(predictions) == {f"dev-{i}" for i in range(8)}
  nbest = json.load(open(results_dir / "cmrc2018_dev_nbest.json"))
  assert all(len(v) <= 20 for v in nbest.values())
  test = json.load(
    open(
      tmp_path
      / "models"
      / "m"
      / "test_predictions"
      / "trial_1"
      / "cmrc2018_predict.json"
    )
  )
  assert set(test) == {f"test-{i}" for i in range(5)}


@pytest.mark.slow
def test_trial_file_end_to_end(tmp_path):
  """A debug-size model trains on (part of) the CMRC 2018 trial file and is
  evaluated on other questions of it: features, training, decoding, EM/F1
  and the predictions file."""
  import shutil

  source = shared_path("data", "qa", "cmrc2018", "trial.json")
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  shutil.copy(vocab, tmp_path / "vocab.txt")
  data = json.load(open(source, encoding="utf-8"))["data"]
  out = tmp_path / "finetuning_data" / "cmrc2018"
  os.makedirs(out)
  for split, articles in (("train", data[:40]), ("dev", data[-10:])):
    (out / f"{split}.json").write_text(
      json.dumps({"data": articles}, ensure_ascii=False), encoding="utf-8"
    )
  hparams = {
    "task_names": ["cmrc2018"],
    "init_checkpoint": None,
    "debug": True,
    "vocab_size": 21128,
    "max_seq_length": 128,
    "doc_stride": 64,
    "train_batch_size": 16,
    "num_train_epochs": 1.0,
  }
  results = finetune_main(tmp_path, hparams)
  assert 0.0 <= results[0]["cmrc2018"]["f1"] <= 100.0
  predictions = json.load(
    open(
      tmp_path / "models" / "m" / "results" / "cmrc2018_dev_predictions.json"
    )
  )
  dev_ids = {
    q["id"] for a in data[-10:] for p in a["paragraphs"] for q in p["qas"]
  }
  assert set(predictions) == dev_ids
  # the reported F1 is the metric of the written predictions
  gold = {
    q["id"]: [a["text"] for a in q["answers"]]
    for article in data[-10:]
    for p in article["paragraphs"]
    for q in p["qas"]
  }
  expected = qa_metrics.evaluate(gold, predictions)
  assert results[0]["cmrc2018"]["f1"] == pytest.approx(expected["f1"])
  assert results[0]["cmrc2018"]["em"] == pytest.approx(expected["em"])


@pytest.mark.parametrize("joint", [True, False])
def test_loss_and_outputs_and_candidates(joint):
  import numpy as np
  import tensorflow as tf

  task = qa.QATask(
    config_for("/x", joint_prediction=joint, beam_size=3, n_best_size=3)
  )
  head = task.build_head(type("C", (), {"hidden_size": 8})())
  batch, length = 2, 7
  features = {
    "input_mask": tf.ones([batch, length], tf.int32),
    "segment_ids": tf.constant([[0, 0, 1, 1, 1, 1, 1]] * batch),
    "cmrc2018_start": tf.constant([2, 0]),
    "cmrc2018_end": tf.constant([4, 0]),
    "cmrc2018_is_impossible": tf.constant([0, 1]),
    "cmrc2018_eid": tf.constant([0, 1]),
  }
  sequence = tf.random.normal([batch, length, 8])
  losses, train_out = task.loss_and_outputs(head, sequence, features, True)
  assert losses.shape == (batch,)
  assert set(train_out) == {"loss", "eid", "span_logits"}
  # what a distillation teacher gives: the training logits, start and end
  np.testing.assert_allclose(
    task.distillation_logits(head, sequence, features).numpy(),
    train_out["span_logits"].numpy(),
    atol=1e-6,
  )
  assert train_out["span_logits"].shape == (batch, 2, length)
  _, out = task.loss_and_outputs(head, sequence, features, False)
  out = {k: v.numpy() for k, v in out.items()}
  assert out["no_answer_logit"].shape == (batch,)  # answerable classifier
  if joint:
    assert out["start_index"].shape == (batch, 3)
    assert out["end_index"].shape == (batch, 3, 3)
    # the question tokens (segment 0, not [CLS]) are never a start
    assert not np.isin(out["start_index"], [1]).any()
  candidates = list(task._span_candidates(out))
  assert len(candidates) == batch and len(candidates[0]) == 9
  best = max(candidates[0])
  assert all(isinstance(x, int) for x in best[1:])


def test_a_batch_shorter_than_the_beam_predicts_the_same():
  """A bucketed batch narrower than beam_size (or another task's batch in a
  joint run) gets the beam of a padded one."""
  import numpy as np
  import tensorflow as tf

  task = qa.QATask(config_for("/x", beam_size=12, n_best_size=12))
  head = task.build_head(type("C", (), {"hidden_size": 8})())
  segments = [0, 0, 1, 1, 1, 1, 1]

  def outputs(width):
    features = {
      "input_mask": tf.constant([[1] * 7 + [0] * (width - 7)]),
      "segment_ids": tf.constant([segments + [0] * (width - 7)]),
      "cmrc2018_start": tf.constant([2]),
      "cmrc2018_end": tf.constant([4]),
      "cmrc2018_is_impossible": tf.constant([0]),
      "cmrc2018_eid": tf.constant([0]),
    }
    sequence = tf.pad(tf.random.stateless_normal([1, 7, 8], [1, 2]),
                      [[0, 0], [0, width - 7], [0, 0]])  # fmt: skip
    _, out = task.loss_and_outputs(head, sequence, features, False)
    return out

  short, padded = outputs(7), outputs(16)
  best = lambda out: max(next(task._span_candidates(
    {k: v.numpy() for k, v in out.items()})))  # fmt: skip
  assert short["start_index"].shape == (1, 12)
  assert best(short)[1:] == best(padded)[1:]
  np.testing.assert_allclose(best(short)[0], best(padded)[0], rtol=1e-5)
