"""Multiple-choice tasks (C3, CHID): packing by hand, option padding,
cloze blanks, submission files, scoring, and bad input."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from choice_data import CHOICE_RUN
from choice_data import write_c3
from choice_data import write_chid_clue
from choice_data import write_chid_fewclue
from choice_data import write_json
from helpers import DEMO_VOCAB
from helpers import config_for

import score_predictions
from finetune import driver
from finetune import finetuning_model
from finetune import preprocessing
from finetune import readers
from finetune import task_builder
from finetune import trial as trial_lib
from model import choice_packing
from model import tokenizers

IDS = {"[CLS]": 2, "[SEP]": 3}
RUN = dict(CHOICE_RUN, eval_batch_size=5, write_test_outputs=True)


def test_fit_lengths_cut_the_context_first_then_the_question():
  assert choice_packing.fit_lengths(10, 4, 3, 20) == (10, 4, 3)
  assert choice_packing.fit_lengths(10, 4, 3, 12) == (5, 4, 3)
  assert choice_packing.fit_lengths(10, 4, 3, 5) == (0, 2, 3)
  assert choice_packing.fit_lengths(10, 4, 7, 5) == (0, 0, 5)


def test_pack_choice_by_hand():
  packed = choice_packing.pack_choice([11, 12, 13, 14], [21, 22], [31], IDS, 9)
  # room 6: the option (1) and the question (2) whole, 3 context tokens
  assert packed["input_ids"] == [2, 11, 12, 13, 3, 21, 22, 31, 3]
  assert packed["segment_ids"] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
  assert packed["input_mask"] == [1] * 9


def test_a_cut_cloze_context_is_a_window_around_the_blank():
  ids = list(range(100, 120))
  assert choice_packing.context_window(ids, 10, 4) == [108, 109, 110, 111]
  assert choice_packing.context_window(ids, 1, 4) == [100, 101, 102, 103]
  assert choice_packing.context_window(ids, 19, 4) == [116, 117, 118, 119]
  assert choice_packing.context_window(ids[:3], 1, 4) == ids[:3]
  packed = choice_packing.pack_choice(ids, [], [7], IDS, 8, center=10)
  assert packed["input_ids"] == [2, 108, 109, 110, 111, 3, 7, 3]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("choice")
  write_c3(root)
  write_chid_clue(root)
  return root


@pytest.fixture(scope="module")
def c3_run(data_root):
  """C3 fine-tuned once on the fixture files (random encoder)."""
  config = config_for(data_root, task_names=["c3"], **RUN)
  driver.run_finetuning(config)
  return config


def test_c3_reads_its_release_layout(data_root):
  task = task_builder.get_task(config_for(data_root, task_names=["c3"]), "c3")
  train = task.get_examples("train")
  assert len(train) == 24
  assert {len(e.choices) for e in train} == {2, 3, 4}
  assert all(e.choices[e.label] for e in train)
  assert train[0].guid == "d-train-0-0"
  test = task.get_examples("test")
  assert [e.guid for e in test] == list(range(34, 40))
  assert all(e.label is None for e in test)


def model_probabilities(config, examples):
  """The model's option probabilities [questions, max_choices] of
  ``examples`` fed as one batch, through the trainer's featurization."""
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  features = tasks[0].featurize(examples, tokenizer)
  shape = [len(examples), tasks[0].max_choices, config.max_seq_length]
  arrays = {}
  for name in features[0]:
    value = np.array([f[name] for f in features], np.int32)
    arrays[name] = (
      value.reshape(shape)
      if value.ndim == 2 and (value.shape[1] == shape[1] * shape[2])
      else value
    )
  arrays["task_id"] = np.zeros([len(examples)], np.int32)
  model = finetuning_model.FinetuningModel(config, tasks)
  _, outputs = model(arrays, training=False)
  return outputs["c3"]["probabilities"].numpy(), model


def test_option_padding_never_changes_a_questions_probabilities(data_root):
  config = config_for(data_root, task_names=["c3"], **RUN)
  task = task_builder.get_tasks(config)[0]
  examples = task.get_examples("train")
  two = [e for e in examples if len(e.choices) == 2][0]
  fours = [e for e in examples if len(e.choices) == 4][:2]
  mixed, model = model_probabilities(config, [fours[0], two, fours[1]])
  # the same weights alone: the model of the first call is reused
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  feature = task.featurize([two], tokenizer)[0]
  alone = {
    k: np.array([v], np.int32).reshape([1, 4, -1])
    if k in ("input_ids", "input_mask", "segment_ids")
    else np.array([v], np.int32)
    for k, v in feature.items()
  }
  alone["task_id"] = np.zeros([1], np.int32)
  _, outputs = model(alone, training=False)
  single = outputs["c3"]["probabilities"].numpy()[0]
  np.testing.assert_allclose(single, mixed[1], atol=1e-6)
  assert np.all(single[2:] == 0.0) and abs(single.sum() - 1) < 1e-6
  assert np.all(mixed[0] > 0)


@pytest.mark.slow
def test_c3_trains_writes_history_and_submission(c3_run):
  results = json.load(open(c3_run.results_json))
  history = results["best"][0]["history"]
  assert [round(h["epoch"]) for h in history] == [1, 2]
  assert 0 <= results["trials"][0]["c3"]["accuracy"] <= 100
  path = os.path.join(
    c3_run.test_predictions_dir, "trial_1", "c311_predict.json"
  )
  lines = [json.loads(line) for line in open(path, encoding="utf-8")]
  assert [row["id"] for row in lines] == list(range(34, 40))
  assert all(row["label"] in range(4) for row in lines)


@pytest.mark.slow
def test_scoring_the_dev_predictions_gives_the_trainers_accuracy(
  c3_run, data_root
):
  results = json.load(open(c3_run.results_json))
  predictions = os.path.join(
    os.path.dirname(c3_run.results_json), "c3_dev_predictions.json"
  )
  gold = os.path.join(data_root, "finetuning_data", "c3")
  scored = score_predictions.score("c3", gold, predictions)
  assert scored["accuracy"] == pytest.approx(
    results["trials"][0]["c3"]["accuracy"]
  )
  assert scored["missing"] == 0


@pytest.mark.slow
def test_predict_only_from_the_finetuned_checkpoint(c3_run, tmp_path):
  trained = json.load(open(c3_run.results_json))["trials"][0]["c3"]
  config = config_for(
    tmp_path,
    task_names=["c3"],
    **dict(
      RUN,
      raw_data_dir=c3_run.raw_data_dir,
      do_train=False,
      init_checkpoint=f"{c3_run.model_dir}_1",
    ),
  )
  (again,) = driver.run_finetuning(config)
  assert again["c3"]["accuracy"] == pytest.approx(trained["accuracy"])


@pytest.mark.slow
def test_bucketed_batches_cut_every_option_row_alike(c3_run, tmp_path):
  """Batches cut to their longest option row give the probabilities of
  batches padded to max_seq_length."""
  probabilities = []
  for bucketing in (True, False):
    config = config_for(
      tmp_path / str(bucketing),
      task_names=["c3"],
      **dict(
        RUN,
        raw_data_dir=c3_run.raw_data_dir,
        do_train=False,
        init_checkpoint=f"{c3_run.model_dir}_1",
        bucket_by_length=bucketing,
        bucket_multiple=4,
        max_seq_length=96,  # rows of 60-80 tokens: buckets differ
      ),
    )
    tasks = task_builder.get_tasks(config)
    tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
    preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
    run = trial_lib.Trial(
      config, tasks, preprocessor, tf.distribute.get_strategy(), 1
    )
    record_path, _ = preprocessor.prepare(tasks, "dev", False)
    lengths = {
      batch["input_ids"].shape[-1]
      for batch in preprocessor.dataset(record_path, 3, False)
    }
    assert (min(lengths) < 96) == bucketing
    probabilities.append(run.predict(record_path)["c3"]["probabilities"])
  np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-5)


def chid_task(root):
  config = config_for(root, task_names=["chid"], max_seq_length=29)
  return task_builder.get_task(config, "chid")


def three_blank_questions(task):
  """The dev questions of the fixture's first three-blank passage."""
  examples = task.get_examples("dev")
  counts = [e.context[0].count("_") + e.context[1].count("_") for e in examples]
  first = counts.index(2)
  return examples, examples[first : first + 3]


def test_a_passage_with_three_blanks_gives_three_questions(data_root):
  task = chid_task(data_root)
  examples, three = three_blank_questions(task)
  # the asked blank moves along the passage; the others are placeholders
  before = [len(e.context[0]) for e in three]
  assert before == sorted(before) and len(set(before)) == 3
  assert [e.context[0].count("_") for e in three] == [0, 1, 2]
  assert len({e.guid for e in three}) == 3
  outputs = {
    "eid": np.array([e.eid for e in examples]),
    "predictions": np.array([e.eid % 10 for e in examples]),
  }
  (line,) = task.submission_lines(examples, outputs, None)
  for example in three:
    assert line[example.guid] == example.eid % 10
  assert task.submission_file == "chid11_predict.json"


def test_the_asked_blank_becomes_mask_tokens(data_root):
  task = chid_task(data_root)
  _, three = three_blank_questions(task)
  tokenizer = tokenizers.get_tokenizer(DEMO_VOCAB, True)
  mask_id = tokenizer.vocab["[MASK]"]
  for example in three:
    pieces = tokenizer.tokenize_to_ids(list(example.context))
    ids, blank_at = task._context_ids(pieces, mask_id)
    assert blank_at == len(pieces[0])
    assert ids[blank_at : blank_at + 4] == [mask_id] * 4
    assert ids.count(mask_id) == 4 and len(ids) == sum(map(len, pieces)) + 4


def test_chid_scores_its_own_submission_in_both_layouts(tmp_path):
  answers = write_chid_clue(tmp_path)
  task = chid_task(tmp_path)
  dev = os.path.join(tmp_path, "finetuning_data", "chid", "dev.json")
  guess = {blank: (index + 1) % 10 for blank, index in answers["dev"].items()}
  first = sorted(guess)[0]
  guess[first] = answers["dev"][first]
  write_json(tmp_path / "p.json", guess)
  scored = task.score_file(dev, str(tmp_path / "p.json"))
  assert scored["accuracy"] == pytest.approx(100.0 / len(guess))
  few = tmp_path / "few"
  write_chid_fewclue(few)
  task = chid_task(few)
  assert task.submission_file == "chidf_predict.json"
  dev = task.data_files("dev")[0]
  rows = [json.loads(line) for line in open(dev, encoding="utf-8")]
  with open(few / "p.json", "w") as f:
    for row in rows:
      f.write(json.dumps({"id": row["id"], "answer": row["answer"]}) + "\n")
  assert task.score_file(dev, str(few / "p.json"))["accuracy"] == 100.0


def c3_error(tmp_path, edit):
  """The error reading a C3 train file changed by ``edit``."""
  write_c3(tmp_path)
  path = os.path.join(tmp_path, "finetuning_data", "c3", "m-train.json")
  documents = json.load(open(path, encoding="utf-8"))
  edit(documents[1][1][0])
  write_json(path, documents)
  with pytest.raises(readers.DataFileError) as error:
    task_builder.get_task(
      config_for(tmp_path, task_names=["c3"]), "c3"
    ).get_examples("train")
  return str(error.value)


@pytest.mark.parametrize(
  "edit,expected",
  [
    (lambda q: q.update(answer="不在选项里"), "is not one of its options"),
    (lambda q: q.update(choice=["只有一个"]), "needs at least 2"),
    (lambda q: q.update(choice=list("abcde")), "at most 4"),
  ],
  ids=["answer-not-an-option", "one-option", "too-many-options"],
)
def test_bad_c3_questions_name_the_file_and_record(tmp_path, edit, expected):
  message = c3_error(tmp_path, edit)
  assert "m-train.json: document 1 question 0" in message
  assert expected in message


def test_a_blank_missing_from_the_answer_file(tmp_path):
  answers = write_chid_clue(tmp_path)
  blank = sorted(answers["train"])[2]
  del answers["train"][blank]
  path = os.path.join(tmp_path, "finetuning_data", "chid", "train_answer.json")
  write_json(path, answers["train"])
  with pytest.raises(
    readers.DataFileError, match=f"{blank} of .*has no answer"
  ):
    chid_task(tmp_path).get_examples("train")


def test_a_chid_file_of_neither_layout(tmp_path):
  write_chid_fewclue(tmp_path)
  path = chid_task(tmp_path).data_files("train")[0]
  with open(path, "w") as f:
    f.write(json.dumps({"content": "无", "options": []}) + "\n")
  with pytest.raises(readers.DataFileError, match="train_few_all.json line 1"):
    chid_task(tmp_path).get_examples("train")


@pytest.mark.slow
def test_a_bad_file_writes_nothing(tmp_path):
  write_c3(tmp_path)
  path = os.path.join(tmp_path, "finetuning_data", "c3", "d-dev.json")
  documents = json.load(open(path, encoding="utf-8"))
  documents[0][1][0]["answer"] = "不在选项里"
  write_json(path, documents)
  config = config_for(tmp_path, task_names=["c3"], **RUN)
  with pytest.raises(readers.DataFileError, match="d-dev.json: document 0"):
    driver.run_finetuning(config)
  assert not os.path.exists(os.path.join(config.results_txt))
  assert not os.path.exists(config.test_predictions_dir)


def test_a_multiple_choice_task_trains_alone(data_root):
  config = config_for(data_root, task_names=["c3", "tnews"])
  with pytest.raises(ValueError, match="c3 is a multiple-choice task"):
    task_builder.get_tasks(config)


def test_chid_guids_are_the_fewclue_ids(tmp_path):
  write_chid_fewclue(tmp_path)
  examples = chid_task(tmp_path).get_examples("test")
  assert [e.guid for e in examples] == [400, 401, 402, 403]


def test_submission_names_follow_the_test_file(tmp_path):
  write_c3(tmp_path, test=2)
  directory = tmp_path / "finetuning_data" / "c3"
  task = task_builder.get_task(config_for(tmp_path, task_names=["c3"]), "c3")
  assert task.submission_file == "c311_predict.json"
  os.rename(directory / "test.json", directory / "test1.0.json")
  assert task.submission_file == "c3_predict.json"
  assert len(task.get_examples("test")) == 2
  os.remove(directory / "test1.0.json")  # dev predictions still have a name
  assert task.submission_file == "c311_predict.json"
  assert chid_task(tmp_path).submission_file == "chid11_predict.json"
