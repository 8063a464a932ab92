"""Weight files of the Hugging Face formats: safetensors and Keras ``.h5``.

Readers return ``{name: (numpy array, stored dtype name)}``; bfloat16 comes
back as float32 (exactly). Every problem with a file is a `WeightsFileError`
whose message names the file, never an error from deep inside a library.
"""

import json
import os

import numpy as np

# safetensors dtype -> (numpy dtype, name)
_SAFETENSORS_DTYPES = {
  "F64": (np.float64, "float64"),
  "F32": (np.float32, "float32"),
  "F16": (np.float16, "float16"),
  "BF16": (np.uint16, "bfloat16"),
  "I64": (np.int64, "int64"),
  "I32": (np.int32, "int32"),
  "I16": (np.int16, "int16"),
  "I8": (np.int8, "int8"),
  "U8": (np.uint8, "uint8"),
  "BOOL": (np.bool_, "bool"),
}
_NUMPY_TO_SAFETENSORS = {"float32": "F32", "float16": "F16", "int64": "I64"}
_MAX_HEADER = 100 * 1024 * 1024


class WeightsFileError(ValueError):
  """A weights file that cannot be read; the message names the file."""


def upcast_bfloat16(array, dtype_name):
  """bfloat16 bits (uint16) -> float32 values; other arrays unchanged."""
  if dtype_name != "bfloat16":
    return array
  return (array.astype(np.uint32) << 16).view(np.float32)


def _safetensors_header(path, f, size):
  if size < 8:
    raise WeightsFileError(f"{path} is too short for a safetensors file")
  length = int.from_bytes(f.read(8), "little")
  if length > min(size - 8, _MAX_HEADER):
    raise WeightsFileError(
      f"{path}: its safetensors header claims {length} bytes but the file "
      f"has {size} (truncated, or not a safetensors file)"
    )
  try:
    header = json.loads(f.read(length))
  except ValueError:
    raise WeightsFileError(
      f"{path}: its safetensors header is not JSON"
    ) from None
  if not isinstance(header, dict):
    raise WeightsFileError(f"{path}: its safetensors header is not an object")
  header.pop("__metadata__", None)
  return header, 8 + length


def _safetensors_entry(path, name, entry, data_start, size):
  """(numpy dtype, dtype name, shape, file offset) of one header entry."""
  if entry.get("dtype") not in _SAFETENSORS_DTYPES:
    raise WeightsFileError(
      f"{path}: tensor {name} has unsupported dtype {entry.get('dtype')!r}"
    )
  dtype, dtype_name = _SAFETENSORS_DTYPES[entry["dtype"]]
  shape = [int(n) for n in entry.get("shape", [])]
  begin, end = (int(n) for n in entry.get("data_offsets", (0, -1)))
  if end - begin != int(np.prod(shape)) * np.dtype(dtype).itemsize:
    raise WeightsFileError(
      f"{path}: tensor {name} of shape {shape} has {end - begin} bytes"
    )
  if data_start + end > size:
    raise WeightsFileError(
      f"{path}: tensor {name} ends at byte {data_start + end} but the file "
      f"has {size} (truncated file?)"
    )
  return dtype, dtype_name, shape, data_start + begin


def read_safetensors(path):
  """{name: (array, dtype name)} of a ``.safetensors`` file (any dtype)."""
  size = os.path.getsize(path)
  tensors = {}
  with open(path, "rb") as f:
    header, data_start = _safetensors_header(path, f, size)
    for name, entry in header.items():
      dtype, dtype_name, shape, offset = _safetensors_entry(
        path, name, entry, data_start, size
      )
      f.seek(offset)
      count = int(np.prod(shape))
      array = np.fromfile(f, np.dtype(dtype).newbyteorder("<"), count)
      tensors[name] = (
        upcast_bfloat16(array.reshape(shape), dtype_name),
        dtype_name,
      )
  return tensors


def write_safetensors(tensors, path, metadata=None):
  """Writes {name: array} (float32, float16 or int64) as safetensors.

  The header is padded to a multiple of 8 bytes and ``metadata`` (string to
  string; transformers wants ``{"format": "pt"}``) goes in ``__metadata__``.
  """
  header, offset, blobs = {}, 0, []
  for name in sorted(tensors):
    array = np.ascontiguousarray(tensors[name])
    code = _NUMPY_TO_SAFETENSORS.get(array.dtype.name)
    if code is None:
      raise ValueError(f"cannot write {name} of dtype {array.dtype}")
    blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
    header[name] = {
      "dtype": code,
      "shape": list(array.shape),
      "data_offsets": [offset, offset + len(blob)],
    }
    blobs.append(blob)
    offset += len(blob)
  if metadata:
    header["__metadata__"] = dict(metadata)
  text = json.dumps(header, separators=(",", ":")).encode()
  text += b" " * (-len(text) % 8)
  with open(path, "wb") as f:
    f.write(len(text).to_bytes(8, "little"))
    f.write(text)
    for blob in blobs:
      f.write(blob)


def _attribute_names(node, attribute, path):
  if attribute not in node.attrs:
    raise WeightsFileError(
      f"{path}: no '{attribute}' attribute; not a Keras weights file"
    )
  return [
    n.decode() if isinstance(n, bytes) else n for n in node.attrs[attribute]
  ]


def read_keras_h5(path):
  """{name: (array, dtype name)} of a Keras ``save_weights`` h5 file.

  Names drop the model's own name and ``:0`` as transformers did:
  ``tf_electra_for_pre_training/electra/embeddings/...:0`` becomes
  ``electra/embeddings/...``.
  """
  import h5py  # noqa: PLC0415 (only needed for .h5 files)

  try:
    h5 = h5py.File(path, "r")
  except OSError as e:
    raise WeightsFileError(
      f"{path} is not a readable HDF5 file ({e}); truncated?"
    ) from None
  tensors = {}
  with h5:
    try:
      for layer in _attribute_names(h5, "layer_names", path):
        group = h5[layer]
        for weight in _attribute_names(group, "weight_names", path):
          array = np.asarray(group[weight])
          name = "/".join(weight.split("/")[1:]).split(":")[0]
          tensors[name] = (array, array.dtype.name)
    except (OSError, KeyError) as e:
      raise WeightsFileError(f"{path}: cannot read its weights ({e})") from None
  return tensors
