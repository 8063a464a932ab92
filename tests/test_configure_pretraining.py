"""PretrainingConfig: official defaults, strict updates, validation."""

import json

import pytest

import configure_pretraining
from util import hparams as hparams_lib


def make(**kwargs):
  return configure_pretraining.PretrainingConfig("m", "/data", **kwargs)


def test_official_defaults():
  config = make()
  expected = dict(
    debug=False,
    do_train=True,
    do_eval=False,
    electra_objective=True,
    electric_objective=False,
    gen_weight=1.0,
    disc_weight=50.0,
    mask_prob=0.15,
    learning_rate=5e-4,
    lr_decay_power=1.0,
    weight_decay_rate=0.01,
    num_warmup_steps=10000,
    iterations_per_loop=200,
    save_checkpoints_steps=1000,
    num_train_steps=1000000,
    num_eval_steps=100,
    keep_checkpoint_max=5,
    model_size="small",
    embedding_size=128,
    vocab_size=30522,
    do_lower_case=True,
    uniform_generator=False,
    two_tower_generator=False,
    untied_generator_embeddings=False,
    untied_generator=True,
    generator_layers=1.0,
    generator_hidden_size=0.25,
    disallow_correct=False,
    temperature=1.0,
    max_seq_length=128,
    train_batch_size=128,
    eval_batch_size=128,
    use_tpu=False,
    num_tpu_cores=1,
    max_predictions_per_seq=19,
    pretrain_tfrecords="/data/pretrain_tfrecords/pretrain_data.tfrecord*",
    vocab_file="/data/vocab.txt",
    model_dir="/data/models/m",
    results_txt="/data/models/m/results/unsup_results.txt",
  )
  for key, value in expected.items():
    assert getattr(config, key) == value, key


def test_debug_defaults_and_passed_values_win():
  config = make(debug=True)
  assert (
    config.train_batch_size,
    config.num_train_steps,
    config.eval_batch_size,
    config.num_eval_steps,
  ) == (8, 20, 4, 2)
  assert make(debug=True, num_train_steps=7).num_train_steps == 7


def test_electric_implies_two_tower_and_small_embedding():
  config = make(electric_objective=True, electra_objective=False)
  assert config.two_tower_generator
  assert make(model_size="tiny").embedding_size is None
  assert make(embedding_size=312).embedding_size == 312


def test_unknown_hparam_names_the_closest():
  with pytest.raises(ValueError, match="'lerning_rate'.*'learning_rate'"):
    make(lerning_rate=1e-3)


@pytest.mark.parametrize(
  "key,value,expected",
  [
    ("num_train_steps", "100", "int"),
    ("learning_rate", "fast", "float"),
    ("debug", 1, "bool"),
    ("model_hparam_overrides", [1], "dict"),
  ],
)
def test_wrong_type_is_rejected(key, value, expected):
  with pytest.raises(TypeError, match=f"'{key}' must be {expected}"):
    make(**{key: value})


def test_the_old_masking_key_still_works_and_says_its_new_name(capsys):
  assert make(official_masking_quirks=False).average_duplicate_samples is False
  assert capsys.readouterr().out.strip().splitlines() == [
    "hparam 'official_masking_quirks' is renamed "
    "'average_duplicate_samples'; the old name is read until the next release"
  ]
  assert make().average_duplicate_samples is True
  assert capsys.readouterr().out == ""


def test_fused_kernels_are_auto_or_off():
  assert make().fused_kernels == "auto"
  assert make(fused_kernels=False).fused_kernels is False


def test_int_is_accepted_for_a_float():
  assert make(learning_rate=1).learning_rate == 1.0


@pytest.mark.parametrize(
  "kwargs,match",
  [
    ({"mask_prob": 1.0}, "mask_prob"),
    ({"mask_prob": 0}, "mask_prob"),
    ({"max_seq_length": 513}, "max_position_embeddings"),
    ({"train_batch_size": 0}, "train_batch_size"),
    ({"distribution_strategy": "gpus"}, "distribution_strategy"),
    ({"mixed_precision": "fp16"}, "mixed_precision"),
    (
      {
        "max_seq_length": 64,
        "model_hparam_overrides": {"max_position_embeddings": 32},
      },
      "max_position_embeddings \\(32\\)",
    ),
    ({"temperature": 0.0}, "temperature"),
    ({"fused_kernels": "yes"}, "fused_kernels"),
    ({"fused_kernels": True}, "fused_kernels"),
  ],
)
def test_impossible_values_fail_early(kwargs, match):
  with pytest.raises(ValueError, match=match):
    make(**kwargs)


def test_load_hparams_from_string_and_file(tmp_path):
  assert hparams_lib.load_hparams('{"debug": true}') == {"debug": True}
  path = tmp_path / "h.json"
  path.write_text(json.dumps({"vocab_size": 21128}))
  assert hparams_lib.load_hparams(str(path)) == {"vocab_size": 21128}
  with pytest.raises(FileNotFoundError, match="missing.json"):
    hparams_lib.load_hparams(str(tmp_path / "missing.json"))
  with pytest.raises(ValueError, match="JSON object"):
    hparams_lib.load_hparams("[1, 2]")


def test_presets_load():
  import glob
  import os

  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  presets = glob.glob(os.path.join(root, "configs", "*.json"))
  assert len(presets) >= 6
  for path in presets:
    name = os.path.basename(path)
    if "finetune" in name or name == "clue_published.json":  # not hparams
      continue
    make(**hparams_lib.load_hparams(path))
