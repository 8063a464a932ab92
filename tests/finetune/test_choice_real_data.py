"""C3 and CHID on the shared data: the real files read as released, and
fine-tuning end to end writes complete submission files."""

import json
import os

import pytest
from choice_data import CHOICE_RUN
from helpers import config_for

from conftest import shared_path
from finetune import driver
from finetune import task_builder

RUN = dict(CHOICE_RUN, eval_batch_size=5, write_test_outputs=True)


@pytest.mark.parametrize(
  "name,split,count,options",
  [
    ("c3", "train", 11869, {2, 3, 4}),
    ("c3", "dev", 3816, {2, 3, 4}),
    ("c3", "test", 3892, {2, 3, 4}),
    ("chid", "train", 202, {7}),
    ("chid", "dev", 202, {7}),
    ("chid", "test", 2000, {7}),
  ],
)
def test_real_files(tmp_path, name, split, count, options):
  clue = shared_path("data", "clue", name)
  os.makedirs(tmp_path / "finetuning_data")
  os.symlink(clue, tmp_path / "finetuning_data" / name)
  task = task_builder.get_task(config_for(tmp_path, task_names=[name]), name)
  examples = task.get_examples(split)
  assert len(examples) == count
  assert {len(e.choices) for e in examples} == options
  labelled = [e.label is not None for e in examples]
  assert all(labelled) if split != "test" else not any(labelled)


@pytest.mark.slow
@pytest.mark.parametrize(
  "name,submission,count", [("c3", "c311_predict.json", 3892),
                            ("chid", "chidf_predict.json", 2000)]
)  # fmt: skip
def test_real_data_end_to_end(tmp_path, name, submission, count):
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  os.makedirs(tmp_path / "finetuning_data")
  os.symlink(
    shared_path("data", "clue", name), tmp_path / "finetuning_data" / name
  )
  hparams = dict(
    RUN, vocab_file=vocab, vocab_size=21128, max_seq_length=64,
    train_batch_size=8, predict_batch_size=64,
    max_examples={"train": 64, "dev": 64},
  )  # fmt: skip
  config = config_for(tmp_path, task_names=[name], **hparams)
  driver.run_finetuning(config)
  results = json.load(open(config.results_json))
  assert len(results["best"][0]["history"]) == 2
  path = os.path.join(config.test_predictions_dir, "trial_1", submission)
  lines = [json.loads(line) for line in open(path, encoding="utf-8")]
  assert len(lines) == count
  assert len({row["id"] for row in lines}) == count
