"""FinetuningConfig: official defaults, size defaults, strict updates."""

import os

import pytest

import configure_finetuning
from conftest import ROOT
from util import hparams as hparams_lib


def make(**kwargs):
  kwargs.setdefault("task_names", ["tnews"])
  return configure_finetuning.FinetuningConfig("m", "/data", **kwargs)


def test_fused_kernels_are_auto_or_off():
  assert make().fused_kernels == "auto"
  assert make(fused_kernels=False).fused_kernels is False
  for bad in ("yes", True):
    with pytest.raises(ValueError, match="fused_kernels"):
      make(fused_kernels=bad).validate()


def test_official_defaults():
  config = make()
  expected = dict(
    learning_rate=1e-4,
    weight_decay_rate=0.01,
    layerwise_lr_decay=0.8,
    num_train_epochs=3.0,
    warmup_proportion=0.1,
    max_seq_length=128,
    train_batch_size=32,
    eval_batch_size=32,
    predict_batch_size=32,
    num_trials=1,
    keep_all_models=True,
    double_unordered=False,  # CLUE's reference AFQMC processor
    tagging_scheme="BIOES",  # the official LABEL_ENCODING
    write_test_outputs=False,
    n_writes_test=5,
    use_tfrecords_if_existing=True,
    model_size="small",
    embedding_size=128,
    vocab_size=30522,
    do_lower_case=True,
    init_checkpoint="/data/models/m",
    model_dir="/data/models/m/finetuning_models/tnews_model",
    results_txt="/data/models/m/results/tnews_results.txt",
  )
  for key, value in expected.items():
    assert getattr(config, key) == value, key


def test_the_default_task_exists():
  from finetune import task_builder

  config = configure_finetuning.FinetuningConfig("m", "/data")
  assert config.task_names == ["tnews"]
  assert task_builder.get_tasks(config)[0].name == "tnews"


def test_large_model_defaults():
  config = make(model_size="large")
  assert (config.learning_rate, config.layerwise_lr_decay) == (5e-5, 0.9)
  assert make(model_size="large", learning_rate=1e-5).learning_rate == 1e-5


def test_unknown_and_mistyped_hparams():
  with pytest.raises(ValueError, match="'task_name'.*'task_names'"):
    make(task_name=["tnews"])
  with pytest.raises(TypeError, match="'task_names' must be list"):
    make(task_names="tnews")
  with pytest.raises(ValueError, match="num_train_epochs"):
    make(num_train_epochs=0)


def test_clue_tiny_preset():
  hparams = hparams_lib.load_hparams(
    os.path.join(ROOT, "configs", "finetune_clue_tiny.json")
  )
  config = make(**hparams)
  assert (
    config.model_size,
    config.learning_rate,
    config.num_train_epochs,
    config.layerwise_lr_decay,
  ) == ("tiny", 1e-4, 10.0, 0.8)


@pytest.mark.parametrize(
  "size, learning_rate", [("small", 3e-4), ("base", 1e-4)]
)
def test_cmrc_presets_give_qa_its_own_settings(size, learning_rate):
  """HFL's published CMRC 2018 recipe for ELECTRA at each size."""
  path = os.path.join(ROOT, "configs", f"finetune_cmrc2018_{size}.json")
  config = make(**hparams_lib.load_hparams(path))
  assert config.task_names == ["cmrc2018"]
  assert (config.max_seq_length, config.doc_stride) == (512, 128)
  assert (config.learning_rate, config.train_batch_size) == (learning_rate, 32)
  assert config.num_train_epochs == 2.0


def test_hparams_layer_in_order():
  merged = hparams_lib.merge_hparams(
    [
      os.path.join(ROOT, "configs", "finetune_clue_tiny.json"),
      '{"task_names": ["afqmc"], "learning_rate": 3e-4}',
    ]
  )
  assert merged["task_names"] == ["afqmc"] and merged["learning_rate"] == 3e-4
  assert merged["model_size"] == "tiny"
