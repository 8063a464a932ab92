"""Our variables equal the official TF1 names and shapes, exactly."""

import json

import pytest

import configure_pretraining
from conftest import shared_path
from pretrain import pretraining_model

SPEC_KEYS = ["clue_electra_tiny", "hfl_electra_small", "electric_small"]


@pytest.fixture(scope="module")
def spec():
  with open(shared_path("spec", "official_tf1_variables.json")) as f:
    return json.load(f)


def build_from_spec(entry):
  config = configure_pretraining.PretrainingConfig(
    "spec", "/nonexistent", **entry["hparams"]
  )
  return pretraining_model.PretrainingModel(config)


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_names_and_shapes_equal_the_official_ones(spec, key):
  entry = spec[key]
  ours = {
    name: var.shape.as_list()
    for name, var in build_from_spec(entry).official_variables().items()
  }
  expected = entry["variables"]
  assert sorted(set(expected) - set(ours)) == [], "missing"
  assert sorted(set(ours) - set(expected)) == [], "extra"
  wrong = {
    n: (ours[n], expected[n]) for n in expected if ours[n] != expected[n]
  }
  assert wrong == {}


def test_clue_tiny_preset_has_about_11_8m_parameters(spec):
  model = build_from_spec(spec["clue_electra_tiny"])
  total = sum(
    v.shape.num_elements() for v in model.official_variables().values()
  )
  assert 11.7e6 < total < 11.9e6


@pytest.mark.parametrize(
  "preset,key",
  [
    ("electra_tiny_zh.json", "clue_electra_tiny"),
    ("electra_small_zh.json", "hfl_electra_small"),
  ],
)
def test_presets_build_the_released_models(spec, preset, key):
  import os

  from conftest import ROOT
  from util import hparams as hparams_lib

  hparams = hparams_lib.load_hparams(os.path.join(ROOT, "configs", preset))
  model = build_from_spec({"hparams": hparams})
  ours = {n: v.shape.as_list() for n, v in model.official_variables().items()}
  assert ours == spec[key]["variables"]
