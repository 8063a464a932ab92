"""Reading fine-tuning files: JSON lines, TSV and CSV, with clear errors."""

import csv
import io
import json

import tensorflow as tf


class DataFileError(ValueError):
  """A problem in a data file; the message names the file and line."""


def read_text(path):
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f"data file {path} does not exist")
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise DataFileError(f"{path}: invalid UTF-8 at byte offset {e.start}")


def read_jsonl(path):
  """[(line number, object)] of a JSON-lines file.

  Lines are split on "\\n" only: real CLUE files hold U+2028 inside strings,
  which `str.splitlines` would wrongly treat as line breaks. Blank lines are
  skipped.
  """
  rows = []
  for number, line in enumerate(read_text(path).split("\n"), 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      raise DataFileError(f"{path} line {number}: not valid JSON ({e.msg} at "
                          f"column {e.colno})") from e
    if not isinstance(row, dict):
      raise DataFileError(f"{path} line {number}: expected a JSON object, got "
                          f"{type(row).__name__}")
    rows.append((number, row))
  return rows


def read_delimited(path, delimiter):
  """[(line number, {column: value})] of a TSV/CSV file with a header row."""
  reader = csv.DictReader(io.StringIO(read_text(path), newline=""),
                          delimiter=delimiter)
  rows = []
  for row in reader:
    if None in row:
      raise DataFileError(f"{path} line {reader.line_num}: more fields than "
                          f"the header's {len(reader.fieldnames)}")
    if not any((v or "").strip() for v in row.values()):
      continue
    rows.append((reader.line_num, row))
  return rows


def read_rows(path, file_format):
  """Rows of ``path`` in ``file_format`` ("jsonl", "tsv" or "csv")."""
  if file_format == "jsonl":
    return read_jsonl(path)
  if file_format in ("tsv", "csv"):
    return read_delimited(path, "\t" if file_format == "tsv" else ",")
  raise ValueError(f"Unknown data format {file_format!r}; expected jsonl, tsv "
                   f"or csv")


def field(row, name, path, line):
  """``row[name]``, or an error naming the file, line and field."""
  if name not in row or row[name] is None:
    raise DataFileError(f"{path} line {line}: missing field {name!r}")
  return row[name]
