"""Safe file writing and reading: atomic writes, JSON, writable checks."""

import json
import os
import tempfile

import tensorflow as tf


def atomic_write_text(text, path):
  """Writes ``text`` to ``path`` via a temporary file and a rename, so a
  reader (or a crash) never sees a half-written file."""
  atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_bytes(data, path):
  """Writes ``data`` to ``path`` atomically (as `atomic_write_text`)."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
    dir=directory, prefix=".tmp-", suffix=os.path.basename(path)
  )
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def atomic_write_json(obj, path):
  atomic_write_text(
    json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", path
  )


def json_roundtrip(obj):
  """``obj`` as it reads back from a JSON file (tuples become lists)."""
  return json.loads(json.dumps(obj))


def load_json(path):
  with tf.io.gfile.GFile(path, "r") as f:
    return json.load(f)


def check_writable_dir(path, what):
  """Creates ``path`` if needed; a clear error names it when not writable."""
  try:
    os.makedirs(path, exist_ok=True)
    probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-")
    probe.close()
  except OSError as e:
    raise PermissionError(f"{what} {path} is not writable: {e}") from e


def parse_json_object(text, where, error=ValueError):
  """Parses ``text`` as a JSON object (a dict).

  Args:
    text: the JSON text.
    where: what the text is, for messages (a file and line, a flag).
    error: the exception class to raise.

  Raises:
    ``error`` naming ``where``: invalid JSON, or JSON that is not an object.
  """
  try:
    loaded = json.loads(text)
  except json.JSONDecodeError as e:
    raise error(
      f"{where}: not valid JSON ({e.msg} at column {e.colno})"
    ) from None
  except RecursionError:
    raise error(f"{where}: JSON nested too deeply") from None
  if not isinstance(loaded, dict):
    raise error(f"{where}: expected a JSON object, got {type(loaded).__name__}")
  return loaded
