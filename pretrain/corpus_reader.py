"""Reading raw corpus files: plain or gzip, UTF-8 with or without BOM.

Lines are split on "\\n" only (a "\\r\\n" ending loses its "\\r"), so U+2028,
U+2029, U+0085 and other characters that `str.splitlines` would treat as
line breaks stay inside their line, as with the official reader.
"""

import codecs
import gzip
import os


class CorpusDecodeError(ValueError):
  """Invalid UTF-8 in a corpus file; names the file and the byte offset."""


def list_corpus_files(corpus_dir):
  """The corpus files under ``corpus_dir`` (recursive; hidden ones skipped)."""
  if not os.path.isdir(corpus_dir):
    raise FileNotFoundError(f"--corpus-dir {corpus_dir} is not a directory")
  files = []
  for root, dirs, names in os.walk(corpus_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    files.extend(
      os.path.join(root, n) for n in sorted(names) if not n.startswith(".")
    )
  if not files:
    raise FileNotFoundError(f"--corpus-dir {corpus_dir} holds no files")
  return files


def read_bytes(path):
  with open(path, "rb") as f:
    data = f.read()
  if path.endswith(".gz") or data[:2] == b"\x1f\x8b":
    try:
      data = gzip.decompress(data)
    except (OSError, EOFError) as e:
      raise CorpusDecodeError(f"{path}: not a valid gzip file: {e}") from e
  return data


def decode(data, path, replace_invalid=False):
  """Decodes UTF-8 (BOM dropped).

  Returns:
    (text, number of invalid byte sequences replaced by U+FFFD).
  Raises:
    CorpusDecodeError naming the file and byte offset, unless
    ``replace_invalid``.
  """
  skipped = 0
  if data.startswith(codecs.BOM_UTF8):
    skipped = len(codecs.BOM_UTF8)
    data = data[skipped:]
  try:
    return data.decode("utf-8"), 0
  except UnicodeDecodeError as e:
    if not replace_invalid:
      raise CorpusDecodeError(
        f"{path}: invalid UTF-8 at byte offset {e.start + skipped} "
        f"({data[e.start : e.start + 4]!r}); fix the file or pass "
        f"--replace-invalid-utf8"
      ) from e
  replaced = 0

  def count(error):
    nonlocal replaced
    replaced += 1
    return "\ufffd", error.end

  codecs.register_error("electra_count_replace", count)
  return data.decode("utf-8", errors="electra_count_replace"), replaced


def read_lines(path, replace_invalid=False):
  """(lines without their endings, replaced-sequence count) of one file."""
  text, replaced = decode(read_bytes(path), path, replace_invalid)
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  return [
    line[:-1] if line.endswith("\r") else line for line in lines
  ], replaced
