"""Reads a PyTorch ``pytorch_model.bin`` without torch and without running it.

A torch file is a zip archive: ``<root>/data.pkl`` is a pickle of the state
dict whose tensors point (by persistent id) at raw storages
``<root>/data/<key>``. Unpickling an arbitrary pickle runs arbitrary code, so
our unpickler resolves only the globals torch writes for plain tensors
(`ALLOWED_GLOBALS`); any other global is refused before it is called, with an
error naming the file and the global.
"""

import collections
import pickle
import zipfile

import numpy as np

from interop import weight_files

# torch storage class -> (numpy dtype of the raw bytes, dtype name)
_STORAGES = {
  "FloatStorage": (np.float32, "float32"),
  "HalfStorage": (np.float16, "float16"),
  "BFloat16Storage": (np.uint16, "bfloat16"),
  "DoubleStorage": (np.float64, "float64"),
  "LongStorage": (np.int64, "int64"),
  "IntStorage": (np.int32, "int32"),
  "ShortStorage": (np.int16, "int16"),
  "CharStorage": (np.int8, "int8"),
  "ByteStorage": (np.uint8, "uint8"),
  "BoolStorage": (np.bool_, "bool"),
}
_REBUILDERS = ("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter")
ALLOWED_GLOBALS = frozenset(
  [("collections", "OrderedDict")]
  + [("torch._utils", name) for name in _REBUILDERS]
  + [("torch", name) for name in _STORAGES]
)
# what torch.save wrote before its zip format (torch < 1.6)
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
  """Stands in for a torch storage class: just its dtype."""

  def __init__(self, name):
    self.np_dtype, self.dtype_name = _STORAGES[name]


class _Storage:
  """A storage read from the archive: flat values and their dtype name."""

  def __init__(self, values, dtype_name):
    self.values, self.dtype_name = values, dtype_name


class _Tensor:
  """A rebuilt tensor before the state dict is returned."""

  def __init__(self, array, dtype_name):
    self.array, self.dtype_name = array, dtype_name


def _rebuild_tensor(storage, offset, size, stride, *_unused):
  """A strided view of ``storage`` as a new contiguous numpy array."""
  size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
  values = storage.values
  if 0 in size:
    return _Tensor(np.zeros(size, values.dtype), storage.dtype_name)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if offset < 0 or last >= values.size or min(stride, default=0) < 0:
    raise weight_files.WeightsFileError(
      f"a tensor of shape {list(size)} reaches past its storage of "
      f"{values.size} values"
    )
  view = np.lib.stride_tricks.as_strided(
    values[offset:],
    shape=size,
    strides=[s * values.itemsize for s in stride],
    writeable=False,
  )
  return _Tensor(np.array(view), storage.dtype_name)


def _rebuild_parameter(tensor, *_unused):
  return tensor


class _RestrictedUnpickler(pickle.Unpickler):
  """Resolves only `ALLOWED_GLOBALS`; storages come from the zip archive."""

  def __init__(self, data, archive, root, path):
    super().__init__(data)
    self.archive, self.root, self.path = archive, root, path

  def find_class(self, module, name):
    if (module, name) not in ALLOWED_GLOBALS:
      raise weight_files.WeightsFileError(
        f"{self.path}: its pickle asks for the global {module}.{name}, which "
        f"a weights file never needs; refusing to load it (convert it to "
        f"model.safetensors with a trusted torch install)"
      )
    if module == "collections":
      return collections.OrderedDict
    if name in _STORAGES:
      return _StorageType(name)
    return (
      _rebuild_parameter if name == "_rebuild_parameter" else (_rebuild_tensor)
    )

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
      raise weight_files.WeightsFileError(
        f"{self.path}: unexpected persistent id {pid!r} in its pickle"
      )
    _, storage_type, key, _location, numel = pid
    if not isinstance(storage_type, _StorageType):
      raise weight_files.WeightsFileError(
        f"{self.path}: storage {key} has no known storage type"
      )
    member = f"{self.root}/data/{key}"
    try:
      raw = self.archive.read(member)
    except KeyError:
      raise weight_files.WeightsFileError(
        f"{self.path}: storage {member} is missing (truncated file?)"
      ) from None
    dtype = np.dtype(storage_type.np_dtype).newbyteorder("<")
    if len(raw) < numel * dtype.itemsize:
      raise weight_files.WeightsFileError(
        f"{self.path}: storage {member} holds {len(raw)} bytes, "
        f"{numel * dtype.itemsize} expected (truncated file?)"
      )
    values = np.frombuffer(raw, dtype, count=numel)
    return _Storage(values, storage_type.dtype_name)


def _open_archive(path):
  """The zip archive and the folder that holds ``data.pkl``."""
  if not zipfile.is_zipfile(path):
    with open(path, "rb") as f:
      head = f.read(16)
    # pickle protocol 2, then the magic number as a 10-byte LONG1
    legacy = head[:4] == b"\x80\x02\x8a\x0a"
    if legacy and int.from_bytes(head[4:14], "little") == _LEGACY_MAGIC:
      problem = (
        "is in the legacy (pre-1.6, non-zip) torch format; re-save it with "
        "a recent torch: torch.save(torch.load(f), f)"
      )
    else:
      problem = "is not a PyTorch zip archive (truncated or another format?)"
    raise weight_files.WeightsFileError(f"{path} {problem}")
  archive = zipfile.ZipFile(path)
  pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
  if len(pickles) != 1:
    raise weight_files.WeightsFileError(
      f"{path}: expected one */data.pkl in the archive, found {pickles}"
    )
  return archive, pickles[0][: -len("/data.pkl")]


def read_torch_file(path):
  """{name: (numpy array, dtype name)} of a torch-saved state dict.

  bfloat16 tensors come back as float32 (exact); the dtype name records the
  stored type.
  Raises:
    WeightsFileError naming ``path``: not a zip, a legacy file, a truncated
    archive, a forbidden global or something other than a state dict.
  """
  archive, root = _open_archive(path)
  with archive:
    order = (
      archive.read(f"{root}/byteorder")
      if (f"{root}/byteorder" in archive.namelist())
      else b"little"
    )
    if order.strip() != b"little":
      raise weight_files.WeightsFileError(
        f"{path}: big-endian torch files are not supported"
      )
    try:
      with archive.open(f"{root}/data.pkl") as data:
        state = _RestrictedUnpickler(data, archive, root, path).load()
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as e:
      raise weight_files.WeightsFileError(
        f"{path}: its pickle cannot be read ({e}); truncated file?"
      ) from None
  if not isinstance(state, dict) or not all(
    isinstance(v, _Tensor) for v in state.values()
  ):
    raise weight_files.WeightsFileError(
      f"{path} does not hold a state dict of tensors (name -> tensor)"
    )
  return {
    name: (weight_files.upcast_bfloat16(t.array, t.dtype_name), t.dtype_name)
    for name, t in state.items()
  }
