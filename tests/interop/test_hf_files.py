"""The transformers weight-file readers, on files the tests write (no torch):
torch zip archives, safetensors and Keras h5, and the name mapping."""

import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
from helpers import write_keras_h5
from torch_files import write_torch_zip

from conftest import SHARED
from interop import hf_names
from interop import torch_pickle
from interop import weight_files

RNG = np.random.default_rng(7)
TENSORS = {
  "a.weight": RNG.normal(size=[3, 5]).astype(np.float32),
  "b.bias": RNG.normal(size=[7]).astype(np.float16),
  "c.ids": np.arange(11, dtype=np.int64).reshape(1, 11),
}


def assert_same(read, expected):
  assert sorted(read) == sorted(expected)
  for name, array in expected.items():
    np.testing.assert_array_equal(read[name][0], array)
    assert read[name][1] == array.dtype.name


def test_torch_zip_is_read_without_torch(tmp_path):
  path = write_torch_zip(str(tmp_path / "pytorch_model.bin"), TENSORS)
  assert_same(torch_pickle.read_torch_file(path), TENSORS)


def test_torch_zip_strided_tensor_is_rebuilt(tmp_path):
  base = RNG.normal(size=[4, 6]).astype(np.float32)
  path = write_torch_zip(str(tmp_path / "t.bin"), {"w": base.T})
  np.testing.assert_array_equal(
    torch_pickle.read_torch_file(path)["w"][0], base.T
  )


class _Payload:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def test_a_pickle_with_a_code_payload_is_refused_and_not_run(tmp_path):
  marker = tmp_path / "was_run"
  path = write_torch_zip(
    str(tmp_path / "evil.bin"),
    pickle_bytes=pickle.dumps({"w": _Payload(marker)}, protocol=2),
  )
  with pytest.raises(weight_files.WeightsFileError) as error:
    torch_pickle.read_torch_file(path)
  message = str(error.value)
  assert path in message and "system" in message and "refusing" in message
  assert not marker.exists()


def test_legacy_torch_file_is_an_error_saying_to_resave(tmp_path):
  path = tmp_path / "old.bin"
  magic = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
  path.write_bytes(b"\x80\x02\x8a\x0a" + magic + b"\x2e")
  with pytest.raises(weight_files.WeightsFileError, match="legacy.*re-save"):
    torch_pickle.read_torch_file(str(path))


@pytest.mark.parametrize("cut", ["half", "storage"])
def test_truncated_torch_file_names_the_file(tmp_path, cut):
  path = write_torch_zip(str(tmp_path / "pytorch_model.bin"), TENSORS)
  if cut == "half":
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
  else:  # an archive whose storage is shorter than the tensor
    with zipfile.ZipFile(path) as archive:
      members = {n: archive.read(n) for n in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
      for name, raw in members.items():
        archive.writestr(name, raw[:5] if name.endswith("/data/0") else raw)
  with pytest.raises(weight_files.WeightsFileError, match="pytorch_model.bin"):
    torch_pickle.read_torch_file(path)


def test_safetensors_round_trip(tmp_path):
  path = str(tmp_path / "model.safetensors")
  weight_files.write_safetensors(TENSORS, path, {"format": "pt"})
  assert_same(weight_files.read_safetensors(path), TENSORS)
  header_size = int.from_bytes(open(path, "rb").read(8), "little")
  assert header_size % 8 == 0


def test_safetensors_files_agree_with_the_safetensors_package(tmp_path):
  numpy_api = pytest.importorskip("safetensors.numpy")
  ours = str(tmp_path / "ours.safetensors")
  theirs = str(tmp_path / "theirs.safetensors")
  weight_files.write_safetensors(TENSORS, ours, {"format": "pt"})
  numpy_api.save_file(TENSORS, theirs, {"format": "pt"})
  assert_same(weight_files.read_safetensors(theirs), TENSORS)
  loaded = numpy_api.load_file(ours)
  for name, array in TENSORS.items():
    np.testing.assert_array_equal(loaded[name], array)


def write_raw_safetensors(path, entries, data):
  header = json.dumps(entries).encode()
  with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + data)


def test_bfloat16_safetensors_are_upcast_exactly(tmp_path):
  values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)
  bits = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
  path = str(tmp_path / "bf16.safetensors")
  write_raw_safetensors(
    path, {"x": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, bits
  )
  array, dtype = weight_files.read_safetensors(path)["x"]
  assert dtype == "bfloat16" and array.dtype == np.float32
  np.testing.assert_array_equal(array, values)


@pytest.mark.parametrize(
  "damage, message",
  [
    ("truncate", "truncated"),
    ("header", "header claims"),
    ("dtype", "unsupported dtype"),
  ],
)
def test_damaged_safetensors_name_the_file(tmp_path, damage, message):
  path = str(tmp_path / "model.safetensors")
  weight_files.write_safetensors(TENSORS, path)
  data = open(path, "rb").read()
  if damage == "truncate":
    data = data[:-10]
  elif damage == "header":
    data = struct.pack("<Q", 10**9) + data[8:]
  else:
    data = data.replace(b'"F32"', b'"X32"')
  open(path, "wb").write(data)
  with pytest.raises(weight_files.WeightsFileError, match=message) as error:
    weight_files.read_safetensors(path)
  assert path in str(error.value)


def test_keras_h5_names_become_torch_names(tmp_path):
  kernel = RNG.normal(size=[4, 6]).astype(np.float32)
  table = RNG.normal(size=[5, 4]).astype(np.float32)
  tensors = {
    "electra/encoder/layer_._1/attention/self/query/kernel": kernel,
    "electra/embeddings/position_embeddings/embeddings": table,
    "electra/embeddings/LayerNorm/gamma": table[0],
  }
  path = write_keras_h5(str(tmp_path / "tf_model.h5"), tensors)
  read = weight_files.read_keras_h5(path)
  assert sorted(read) == sorted(tensors)
  converted = dict(hf_names.keras_to_torch(n, a) for n, (a, _) in read.items())
  np.testing.assert_array_equal(
    converted["electra.encoder.layer.1.attention.self.query.weight"], kernel.T
  )
  np.testing.assert_array_equal(
    converted["electra.embeddings.position_embeddings.weight"], table
  )
  assert "electra.embeddings.LayerNorm.weight" in converted


def test_truncated_h5_names_the_file(tmp_path):
  path = write_keras_h5(
    str(tmp_path / "tf_model.h5"), {"electra/x/kernel": np.ones([300, 300])}
  )
  data = open(path, "rb").read()
  open(path, "wb").write(data[: len(data) // 3])
  with pytest.raises(weight_files.WeightsFileError, match="tf_model.h5"):
    weight_files.read_keras_h5(path)


def official_names():
  spec = os.path.join(SHARED, "spec", "official_tf1_variables.json")
  if not os.path.exists(spec):
    pytest.skip(f"{spec} is absent (shared data is not part of the project)")
  with open(spec) as f:
    return json.load(f)["hfl_electra_small"]["variables"]


def test_every_official_name_maps_to_transformers_and_back():
  for name in official_names():
    scope = "generator" if name.startswith("generator/") else "electra"
    torch_name, transpose = hf_names.official_to_torch(name, scope)
    assert hf_names.torch_to_official(torch_name, scope) == (name, transpose)


@pytest.mark.parametrize(
  "official, torch_name",
  [
    (
      "electra/encoder/layer_10/attention/output/LayerNorm/gamma",
      "electra.encoder.layer.10.attention.output.LayerNorm.weight",
    ),
    (
      "discriminator_predictions/dense_1/kernel",
      "discriminator_predictions.dense_prediction.weight",
    ),
    ("generator_predictions/output_bias", "generator_lm_head.bias"),
    (
      "electra/embeddings/word_embeddings",
      "electra.embeddings.word_embeddings.weight",
    ),
  ],
)
def test_name_mapping_by_hand(official, torch_name):
  assert hf_names.official_to_torch(official)[0] == torch_name
  assert hf_names.torch_to_official(torch_name)[0] == official
