"""A transformers ELECTRA directory read into official variable names.

A directory holds ``config.json`` (``model_type`` "electra") and one of
`WEIGHT_FILES`; single files and sharded ones (``*.index.json``) both work.
`HFModel` reads the weights without torch and maps them to the official
names: ``ElectraForPreTraining`` to ``electra/`` and
``discriminator_predictions/``, ``ElectraForMaskedLM`` to ``generator/``
and ``generator_predictions/``, ``ElectraModel`` and fine-tuned models to
``electra/`` (their task heads are reported as unused).
"""

import collections
import json
import os

import numpy as np

from interop import hf_config
from interop import hf_names
from interop import torch_pickle
from interop import weight_files

WEIGHT_FILES = (
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
  "tf_model.h5",
)


def is_hf_directory(path):
  """True for a directory with a transformers config.json and no TF
  checkpoint (our model directories keep a config.json of hparams)."""
  if not isinstance(path, str) or not os.path.isdir(path):
    return False
  config = os.path.join(path, "config.json")
  if not os.path.exists(config) or os.path.exists(
    os.path.join(path, "checkpoint")
  ):
    return False
  try:
    with open(config, encoding="utf-8") as f:
      return "model_type" in json.load(f)
  except (OSError, ValueError):
    return True  # read_config names the problem


def weights_path(directory):
  for name in WEIGHT_FILES:
    if os.path.exists(os.path.join(directory, name)):
      return os.path.join(directory, name)
  raise weight_files.WeightsFileError(
    f"{directory} holds no weights (expected one of {', '.join(WEIGHT_FILES)})"
  )


def _read_file(path):
  if path.endswith(".safetensors"):
    return weight_files.read_safetensors(path)
  if path.endswith(".bin"):
    return torch_pickle.read_torch_file(path)
  tensors = {}
  for name, (array, dtype) in weight_files.read_keras_h5(path).items():
    torch_name, torch_array = hf_names.keras_to_torch(name, array)
    tensors[torch_name] = (torch_array, dtype)
  return tensors


def read_state(directory):
  """(weights path, {transformers name: (array, stored dtype)})."""
  path = weights_path(directory)
  if not path.endswith(".index.json"):
    return path, _read_file(path)
  try:
    with open(path, encoding="utf-8") as f:
      weight_map = json.load(f)["weight_map"]
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise weight_files.WeightsFileError(
      f"{path} is not a shard index with a weight_map ({e})"
    ) from None
  state = {}
  for shard in sorted(set(weight_map.values())):
    tensors = _read_file(os.path.join(directory, shard))
    state.update({n: tensors[n] for n in tensors if weight_map.get(n) == shard})
  missing = sorted(set(weight_map) - set(state))
  if missing:
    raise weight_files.WeightsFileError(
      f"{path} lists {len(missing)} tensors its shards lack, e.g. {missing[0]}"
    )
  return path, state


def _architecture(config, names):
  declared = config.get("architectures") or []
  if declared:
    return declared[0]
  if any(n.startswith("generator_lm_head.") for n in names):
    return "ElectraForMaskedLM"
  if any(n.startswith("discriminator_predictions.") for n in names):
    return "ElectraForPreTraining"
  return "ElectraModel"


class HFModel:
  """One transformers ELECTRA directory as {official name: float32 array}.

  Attributes:
    path: the weights file.
    config: its checked config.json.
    architecture: e.g. "ElectraForPreTraining".
    tensors: {official name: float32 array}.
    unused: transformers names that map to no official variable.
    notes: what the reader did (dtype upcasts, skipped buffers, tied weights).
  """

  def __init__(self, directory):
    self.directory = directory
    self.config = hf_config.read_config(directory)
    self.path, state = read_state(directory)
    self.architecture = _architecture(self.config, state)
    scope = "generator" if self.architecture.endswith("MaskedLM") else "electra"
    if not any(n.startswith("electra.") for n in state):
      state = {  # a bare ElectraModel saves without the "electra." prefix
        (
          n
          if n.startswith(("discriminator_", "generator_", "classifier"))
          else "electra." + n
        ): v
        for n, v in state.items()
      }
    self.tensors, self.unused, self.notes = {}, [], []
    self._map(state, scope)

  def _map(self, state, scope):
    upcast = collections.Counter()
    for name, (array, dtype) in sorted(state.items()):
      if hf_names.is_buffer(name):
        continue
      if name == "generator_lm_head.weight" and self._tied(state, array):
        self.notes.append("generator_lm_head.weight: tied word embeddings")
        continue
      mapped = hf_names.torch_to_official(name, scope)
      if mapped is None:
        self.unused.append(name)
        continue
      official, transpose = mapped
      if dtype in ("float16", "bfloat16", "float64"):
        upcast[dtype] += 1
      array = np.asarray(array, np.float32)
      self.tensors[official] = np.transpose(array) if transpose else array
    self.notes += [
      f"{count} {dtype} tensors upcast to float32"
      for dtype, count in sorted(upcast.items())
    ]

  @staticmethod
  def _tied(state, array):
    entry = state.get("electra.embeddings.word_embeddings.weight")
    return entry is not None and np.array_equal(
      entry[0], array
    )  # (array, dtype)


def directory_hparams(directories):
  """Shape hparams and vocabulary settings of the HF directories given.

  Args:
    directories: {"discriminator"/"generator"/"model": directory}.
  Returns:
    {hparam: value}: the shape hparams, ``vocab_file`` when a vocab.txt lies
    beside the discriminator (or model), ``do_lower_case`` when its
    tokenizer_config.json says; empty without a discriminator or model
    directory (non-HF generator directories are ignored).
  """
  home = directories.get("discriminator") or directories.get("model")
  if home is None:  # a generator alone does not give the model's shape
    return {}
  gen = directories.get("generator")
  gen_config = hf_config.read_config(gen) if gen else None
  hparams = hf_config.shape_hparams(
    hf_config.read_config(home), gen_config, home
  )
  positions = hparams["model_hparam_overrides"]["max_position_embeddings"]
  if positions < 128:  # the default max_seq_length would not fit
    hparams["max_seq_length"] = positions
  if os.path.exists(os.path.join(home, "vocab.txt")):
    hparams["vocab_file"] = os.path.join(home, "vocab.txt")
  tokenizer_config = os.path.join(home, "tokenizer_config.json")
  if os.path.exists(tokenizer_config):
    with open(tokenizer_config, encoding="utf-8") as f:
      lower = json.load(f).get("do_lower_case")
    if isinstance(lower, bool):
      hparams["do_lower_case"] = lower
  return hparams
