"""Exported multiple-choice models (SavedModel with text in, transformers
ElectraForMultipleChoice) score the options as the trainer does."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from choice_data import CHOICE_RUN
from choice_data import write_c3
from choice_data import write_chid_clue
from helpers import DEMO_ENCODER_HPARAMS
from helpers import DEMO_VOCAB
from helpers import config_for

import convert_checkpoint
import export_savedmodel
from finetune import driver
from finetune import finetuning_model
from finetune import task_builder
from interop import loading
from model import tokenizers

RUN = dict(CHOICE_RUN, num_train_epochs=3, learning_rate=2e-3)


def finetune(root, task):
  config = config_for(root, task_names=[task], **RUN)
  driver.run_finetuning(config)
  return config, f"{config.model_dir}_1"


def trainer_logits(config, checkpoint, examples):
  """[questions, max_choices] logits of the trainer's model on its own
  features of ``examples``."""
  tasks = task_builder.get_tasks(config)
  model = finetuning_model.FinetuningModel(config, tasks)
  loading.init_from_checkpoint(model.official_variables(), checkpoint)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  features = tasks[0].featurize(examples, tokenizer)
  rows = [len(examples), tasks[0].max_choices, config.max_seq_length]
  arrays = {
    name: np.array([f[name] for f in features], np.int32)
    for name in features[0]
  }
  for name in ("input_ids", "input_mask", "segment_ids"):
    arrays[name] = arrays[name].reshape(rows)
  arrays["task_id"] = np.zeros([len(examples)], np.int32)
  _, outputs = model(arrays, training=False)
  return outputs[tasks[0].name]["logits"].numpy(), arrays


def export(checkpoint, directory, task):
  export_savedmodel.export_savedmodel(
    dict(DEMO_ENCODER_HPARAMS), checkpoint, str(directory), DEMO_VOCAB,
    None, task,
  )  # fmt: skip
  return tf.saved_model.load(str(directory))


def text_inputs(examples, max_choices, cloze):
  """The serving_default inputs of ``examples``."""
  contexts = [
    "#idiom#".join(e.context) if cloze else e.context[0] for e in examples
  ]
  choices = [
    e.choices + [""] * (max_choices - len(e.choices)) for e in examples
  ]
  return {
    "context": tf.constant(contexts),
    "question": tf.constant([e.question for e in examples]),
    "choices": tf.constant(choices),
  }


def assert_same_scores(ours, served, examples):
  for row, example in enumerate(examples):
    real = len(example.choices)
    np.testing.assert_allclose(
      served["logits"][row, :real], ours[row, :real], atol=1e-4
    )
    assert np.all(served["probabilities"][row, real:] == 0.0)
  assert served["label"].tolist() == np.argmax(ours, -1).tolist()


@pytest.fixture(scope="module")
def c3_model(tmp_path_factory):
  root = tmp_path_factory.mktemp("c3export")
  write_c3(root)
  config, checkpoint = finetune(root, "c3")
  examples = task_builder.get_tasks(config)[0].get_examples("dev")
  logits, arrays = trainer_logits(config, checkpoint, examples)
  return config, checkpoint, examples, logits, arrays


@pytest.mark.slow
def test_savedmodel_chooses_as_the_trainer(c3_model, tmp_path):
  config, checkpoint, examples, logits, arrays = c3_model
  loaded = export(checkpoint, tmp_path / "c3", "c3")
  served = loaded.signatures["serving_default"](
    **text_inputs(examples, 4, False)
  )
  served = {k: v.numpy() for k, v in served.items()}
  assert_same_scores(logits, served, examples)
  by_ids = loaded.signatures["choose"](
    **{
      k: tf.constant(arrays[k])
      for k in ("input_ids", "input_mask", "segment_ids")
    }
  )
  assert_same_scores(
    logits, {k: v.numpy() for k, v in by_ids.items()}, examples
  )
  description = json.load(open(tmp_path / "c3" / "serving.json"))
  assert description["type"] == "multiple_choice"
  assert description["cloze"] is False
  assert sorted(description["signatures"]["serving_default"]["inputs"]) == [
    "choices", "context", "question",
  ]  # fmt: skip


@pytest.mark.slow
def test_a_cloze_savedmodel_fills_the_blank_as_the_trainer(tmp_path):
  write_chid_clue(tmp_path)
  config, checkpoint = finetune(tmp_path, "chid")
  examples = task_builder.get_tasks(config)[0].get_examples("dev")
  logits, _ = trainer_logits(config, checkpoint, examples)
  loaded = export(checkpoint, tmp_path / "chid", "chid")
  served = loaded.signatures["serving_default"](
    **text_inputs(examples, 10, True)
  )
  assert_same_scores(
    logits, {k: v.numpy() for k, v in served.items()}, examples
  )
  # another blank given by its number becomes the trainer's placeholder
  row = next(i for i, e in enumerate(examples) if "_" in e.context[0])
  before, after = examples[row].context
  numbered = text_inputs([examples[row]], 10, True)
  numbered["context"] = tf.constant(
    [before.replace("_", "#idiom000999#", 1) + "#idiom#" + after]
  )
  again = loaded.signatures["serving_default"](**numbered)["logits"].numpy()
  np.testing.assert_allclose(again[0], served["logits"].numpy()[row], atol=1e-4)


@pytest.mark.slow
def test_transformers_multiple_choice_gives_our_logits(c3_model, tmp_path):
  torch = pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed"
  )
  config, checkpoint, examples, logits, arrays = c3_model
  convert_checkpoint.convert(
    checkpoint, str(tmp_path / "hf"), "hf", dict(DEMO_ENCODER_HPARAMS),
    DEMO_VOCAB, "c3",
  )  # fmt: skip
  model = transformers.AutoModelForMultipleChoice.from_pretrained(
    str(tmp_path / "hf" / "c3")
  ).eval()
  assert type(model).__name__ == "ElectraForMultipleChoice"
  for row, example in enumerate(examples):
    real = len(example.choices)
    inputs = {
      name: torch.tensor(arrays[key][row : row + 1, :real])
      for name, key in (
        ("input_ids", "input_ids"),
        ("attention_mask", "input_mask"),
        ("token_type_ids", "segment_ids"),
      )
    }
    with torch.no_grad():
      theirs = model(**inputs).logits.numpy()[0]
    np.testing.assert_allclose(theirs, logits[row, :real], atol=1e-4)
  assert os.path.exists(tmp_path / "hf" / "c3" / "vocab.txt")
