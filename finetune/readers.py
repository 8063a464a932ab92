"""Reading fine-tuning files: JSON lines, TSV and CSV, with clear errors."""

import csv
import io

import tensorflow as tf

from util import files as files_lib


class DataFileError(ValueError):
  """A problem in a data file; the message names the file and line."""


def shown(value, limit=60):
  """``repr(value)`` cut to ``limit`` characters, for one-line messages."""
  text = repr(value)
  return text if len(text) <= limit else text[:limit] + "..."


def read_text(path):
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f"data file {path} does not exist")
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise DataFileError(
      f"{path}: invalid UTF-8 at byte offset {e.start}"
    ) from None


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
    row = files_lib.parse_json_object(
      line, f"{path} line {number}", DataFileError
    )
    rows.append((number, row))
  return rows


def read_delimited(path, delimiter):
  """[(line number, {column: value})] of a TSV/CSV file with a header row."""
  reader = csv.DictReader(
    io.StringIO(read_text(path), newline=""), delimiter=delimiter
  )
  rows = []
  for row in _csv_rows(reader, path):
    if None in row:
      raise DataFileError(
        f"{path} line {reader.line_num}: more fields than "
        f"the header's {len(reader.fieldnames)}"
      )
    if not any((v or "").strip() for v in row.values()):
      continue
    rows.append((reader.line_num, row))
  return rows


def read_tsv_columns(path):
  """[(line number, [fields])] of a tab-separated file without quoting
  (quotes are text, as the official readers take them); blank lines are
  skipped."""
  rows = []
  lines = read_text(path).split("\n")
  reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
  for number, fields in enumerate(_csv_rows(reader, path), 1):
    if any(f.strip() for f in fields):
      rows.append((number, [f.rstrip("\r") for f in fields]))
  return rows


def _csv_rows(reader, path):
  """The rows of a csv reader; its errors (a field over the csv module's
  limit, a stray quote) name the file and line."""
  try:
    yield from reader
  except csv.Error as e:
    raise DataFileError(f"{path} line {reader.line_num}: {e}") from None


def read_rows(path, file_format):
  """Rows of ``path`` in ``file_format`` ("jsonl", "tsv" or "csv")."""
  if file_format == "jsonl":
    return read_jsonl(path)
  if file_format in ("tsv", "csv"):
    return read_delimited(path, "\t" if file_format == "tsv" else ",")
  raise ValueError(
    f"Unknown data format {file_format!r}; expected jsonl, tsv or csv"
  )


def field(row, name, path, line):
  """``row[name]``, or an error naming the file, line and field."""
  if name not in row or row[name] is None:
    raise DataFileError(f"{path} line {line}: missing field {name!r}")
  return row[name]


def read_predictions(path):
  """{str(id): row} of a submission file of {"id": ..., ...} JSON lines."""
  predictions = {}
  for line, row in read_jsonl(path):
    if "id" not in row:
      raise DataFileError(f"{path} line {line}: missing field 'id'")
    if str(row["id"]) in predictions:
      raise DataFileError(
        f"{path} line {line}: id {shown(row['id'])} was given before (each "
        f"prediction needs its own id)"
      )
    predictions[str(row["id"])] = row
  return predictions


def read_json_object(path):
  """The JSON object (dict) a file holds, or an error naming the file."""
  return files_lib.parse_json_object(read_text(path), path, DataFileError)
