"""A fine-tuned checkpoint knows how it was made (model.json beside it):
export, conversion, predict-only and scoring need no --hparams, and read
its casing and packed length as it was trained."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_ENCODER_HPARAMS
from helpers import DEMO_FINETUNE_RUN
from helpers import demo_sentences
from helpers import trainer_outputs
from helpers import write_jsonl

import configure_finetuning
import convert_checkpoint
import export_savedmodel
from conftest import ROOT
from conftest import finetune_main
from interop import model_record

pytestmark = pytest.mark.slow

CUSTOM = {
  "mixed": {"text_a": "text", "label": "label", "labels": ["p", "q"]},
}
# a cased model (Latin capitals in the texts) at a short packed length
HPARAMS = dict(
  DEMO_FINETUNE_RUN,
  task_names=["mixed"],
  custom_tasks=CUSTOM,
  do_lower_case=False,
  max_seq_length=24,
  train_batch_size=8,
  num_train_epochs=3.0,
  learning_rate=3e-3,
)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
  root = tmp_path_factory.mktemp("recorded")
  lines = demo_sentences()
  rows = [
    {"text": ("iPhone X 和 Apple Watch " if i % 2 else "") + lines[i],
     "label": "pq"[i % 2]}
    for i in range(16)
  ]  # fmt: skip
  for split in ("train", "dev"):
    write_jsonl(str(root / "finetuning_data" / "mixed" / f"{split}.json"), rows)
  results = finetune_main(root, HPARAMS)[0]
  checkpoint = str(
    root / "models" / "m" / "finetuning_models" / "mixed_model_1"
  )
  return root, results, checkpoint


def test_the_record_says_what_built_it(finetuned):
  _, _, checkpoint = finetuned
  record = json.load(open(os.path.join(checkpoint, "model.json")))
  assert record["built_by"] == "run_finetuning.py"
  assert record["hparams"]["do_lower_case"] is False
  assert record["hparams"]["max_seq_length"] == 24
  hidden = DEMO_ENCODER_HPARAMS["model_hparam_overrides"]["hidden_size"]
  assert record["shape"]["hidden_size"] == hidden
  assert record["task_hparams"]["custom_tasks"] == CUSTOM
  assert os.path.exists(os.path.join(checkpoint, "vocab.txt"))


def test_export_without_hparams_serves_what_the_trainer_predicts(
  finetuned, tmp_path
):
  root, _, checkpoint = finetuned
  out = str(tmp_path / "saved")
  _, report = export_savedmodel.export_savedmodel({}, checkpoint, out)
  assert not report.missing  # no generator "left at initialisation"
  config = configure_finetuning.FinetuningConfig("m", str(root), **HPARAMS)
  task, examples, _, _, logits = trainer_outputs(config, checkpoint)["mixed"]
  served = tf.saved_model.load(out).signatures["serving_default"](
    text=tf.constant([e.text_a for e in examples])
  )
  np.testing.assert_allclose(
    served["probabilities"].numpy(),
    tf.nn.softmax(logits).numpy(),
    atol=1e-5,
  )


def test_a_contradicting_shape_names_both_values(finetuned, tmp_path):
  _, _, checkpoint = finetuned
  with pytest.raises(ValueError, match=r"do_lower_case True \(it was trained"):
    export_savedmodel.export_savedmodel(
      {"do_lower_case": True}, checkpoint, str(tmp_path / "out")
    )


def test_conversions_keep_the_record(finetuned, tmp_path):
  _, _, checkpoint = finetuned
  converted = str(tmp_path / "tf2" / "model.ckpt")
  convert_checkpoint.convert(checkpoint, converted, "tf2")
  _, record = model_record.read(converted)
  assert record["built_by"] == "convert_checkpoint.py"
  assert record["shape"] == model_record.read(checkpoint)[1]["shape"]
  export_savedmodel.export_savedmodel({}, converted, str(tmp_path / "saved"))
  hf = str(tmp_path / "hf")
  convert_checkpoint.convert(checkpoint, hf, "hf")
  tokenizer = json.load(
    open(os.path.join(hf, "mixed", "tokenizer_config.json"))
  )
  assert tokenizer["do_lower_case"] is False
  assert tokenizer["model_max_length"] == 24


def test_predict_only_needs_no_shape(finetuned):
  root, results, checkpoint = finetuned
  again = finetune_main(
    root,
    {"task_names": ["mixed"], "custom_tasks": CUSTOM, "do_train": False,
     "init_checkpoint": checkpoint},
    model_name="again",
  )[0]  # fmt: skip
  assert again["mixed"] == pytest.approx(results["mixed"], abs=1e-6)


def test_a_finetuning_preset_describes_a_model_to_export():
  preset = os.path.join(ROOT, "configs", "finetune_clue_tiny.json")
  hparams = json.load(open(preset))
  config, _ = export_savedmodel.model_config(hparams, "/nonexistent", None)
  assert config.model_size == hparams["model_size"]


def test_a_bf16_export_runs_the_head_in_float32(finetuned):
  _, _, checkpoint = finetuned
  module, _ = export_savedmodel.build_module(
    {"mixed_precision": "mixed_bfloat16"}, checkpoint
  )
  ids = tf.constant([[2, 7, 3]])
  sequence = module.serving.encode(ids, tf.ones_like(ids), tf.zeros_like(ids))
  assert sequence.dtype == tf.float32  # as the trainer casts before heads
