"""Writes PyTorch-format state dicts without torch, for the reader's tests.

The pickle is assembled opcode by opcode (protocol 2) exactly as
``torch.save`` lays it out: each tensor is a ``torch._utils.
_rebuild_tensor_v2`` call on a persistent-id storage kept in the zip as
``<root>/data/<key>``.
"""

import os
import pickle
import struct
import zipfile

import numpy as np

_STORAGE = {
  "float32": "FloatStorage",
  "float16": "HalfStorage",
  "int64": "LongStorage",
}


def _text(value):
  data = value.encode()
  return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def _int(value):
  return pickle.BININT + struct.pack("<i", value)


def _tuple(values):
  return pickle.MARK + b"".join(_int(v) for v in values) + pickle.TUPLE


def _global(module, name):
  return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _tensor(key, array, storage_name):
  strides = [s // array.itemsize for s in array.strides]
  return (
    _global("torch._utils", "_rebuild_tensor_v2")
    + pickle.MARK
    + pickle.MARK
    + _text("storage")
    + _global("torch", storage_name)
    + _text(key)
    + _text("cpu")
    + _int(array.size)
    + pickle.TUPLE
    + pickle.BINPERSID
    + _int(0)
    + _tuple(array.shape)
    + _tuple(strides)
    + pickle.NEWFALSE
    + _global("collections", "OrderedDict")
    + pickle.EMPTY_TUPLE
    + pickle.REDUCE
    + pickle.TUPLE
    + pickle.REDUCE
  )


def state_dict_pickle(tensors):
  """(pickle bytes, {storage key: raw bytes}) of {name: numpy array}."""
  body, storages = b"", {}
  for index, (name, array) in enumerate(tensors.items()):
    # a transposed view keeps its strides over the contiguous storage
    storage = array if array.flags.c_contiguous else np.transpose(array)
    if not storage.flags.c_contiguous:
      raise ValueError(f"{name}: only contiguous or transposed arrays")
    key = str(index)
    storages[key] = storage.astype(storage.dtype.newbyteorder("<")).tobytes()
    body += _text(name) + _tensor(key, array, _STORAGE[array.dtype.name])
  data = (
    pickle.PROTO
    + b"\x02"
    + pickle.EMPTY_DICT
    + pickle.MARK
    + body
    + pickle.SETITEMS
    + pickle.STOP
  )
  return data, storages


def write_torch_zip(path, tensors=None, pickle_bytes=None, storages=None):
  """A torch zip archive of ``tensors``, or of a given pickle and storages."""
  if tensors is not None:
    pickle_bytes, storages = state_dict_pickle(tensors)
  root = os.path.splitext(os.path.basename(path))[0]
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr(f"{root}/data.pkl", pickle_bytes)
    archive.writestr(f"{root}/byteorder", "little")
    for key, raw in (storages or {}).items():
      archive.writestr(f"{root}/data/{key}", raw)
    archive.writestr(f"{root}/version", "3\n")
  return path
