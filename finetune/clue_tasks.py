"""The CLUE classification tasks, built as CLUE's reference processors build
them, reading CLUE's released JSON-lines files."""

from finetune import classification
from finetune import readers

NLI_LABELS = ["contradiction", "entailment", "neutral"]


class AFQMC(classification.ClassificationTask):
  """Ant Financial question matching: a symmetric sentence pair."""

  pair = True

  symmetric = True
  submission_file = "afqmc_predict.json"

  def __init__(self, config):
    super().__init__(config, "afqmc", ["0", "1"])

  def texts(self, row, path, line):
    return (
      readers.field(row, "sentence1", path, line),
      readers.field(row, "sentence2", path, line),
    )


class TNEWS(classification.ClassificationTask):
  """Toutiao news titles, 15 classes ("100".."116" without 105 and 111);
  the keywords are unused, as in CLUE's reference processor."""

  submission_file = "tnews11_predict.json"

  def __init__(self, config):
    labels = [str(i) for i in range(100, 117) if i not in (105, 111)]
    super().__init__(config, "tnews", labels)

  def texts(self, row, path, line):
    return readers.field(row, "sentence", path, line), None


class IFLYTEK(classification.ClassificationTask):
  """App descriptions, 119 classes ("0".."118")."""

  submission_file = "iflytek_predict.json"

  def __init__(self, config):
    super().__init__(config, "iflytek", [str(i) for i in range(119)])

  def texts(self, row, path, line):
    return readers.field(row, "sentence", path, line), None


class CMNLI(classification.ClassificationTask):
  """Chinese MultiNLI; rows labelled "-" (no consensus) are dropped."""

  pair = True

  submission_file = "cmnli_predict.json"

  def __init__(self, config, name="cmnli"):
    super().__init__(config, name, NLI_LABELS)

  def texts(self, row, path, line):
    return (
      readers.field(row, "sentence1", path, line),
      readers.field(row, "sentence2", path, line),
    )

  def skip_row(self, row):
    return str(row.get("label")) == "-"


class OCNLI(CMNLI):
  """Original Chinese NLI, the same format as CMNLI."""

  submission_file = "ocnli_50k_predict.json"

  def __init__(self, config):
    super().__init__(config, "ocnli")


def mark_wsc_spans(text, query, query_idx, pronoun, pronoun_idx):
  """CLUE's reference WSC input: the noun span in _underscores_, the pronoun
  in [brackets], inserted at their character indices."""
  chars = list(text)
  if pronoun_idx > query_idx:
    chars.insert(query_idx, "_")
    chars.insert(query_idx + len(query) + 1, "_")
    chars.insert(pronoun_idx + 2, "[")
    chars.insert(pronoun_idx + len(pronoun) + 3, "]")
  else:
    chars.insert(pronoun_idx, "[")
    chars.insert(pronoun_idx + len(pronoun) + 1, "]")
    chars.insert(query_idx + 2, "_")
    chars.insert(query_idx + len(query) + 3, "_")
  return "".join(chars)


class CLUEWSC2020(classification.ClassificationTask):
  """Pronoun resolution: does the pronoun refer to the marked noun?"""

  submission_file = "cluewsc11_predict.json"
  # precision/recall/F1 are of "true" (the pronoun refers to the noun); the
  # label order stays CLUE's, which the heads of checkpoints follow
  positive = 0

  def __init__(self, config):
    super().__init__(config, "cluewsc2020", ["true", "false"])

  def texts(self, row, path, line):
    text = readers.field(row, "text", path, line)
    target = readers.field(row, "target", path, line)
    spans = {}
    for key in ("span1_text", "span1_index", "span2_text", "span2_index"):
      spans[key] = readers.field(target, key, path, f"{line} (target)")
    for which in ("span1", "span2"):
      start, span = spans[which + "_index"], spans[which + "_text"]
      if text[start : start + len(span)] != span:
        raise readers.DataFileError(
          f"{path} line {line}: field 'target.{which}_text' "
          f"{readers.shown(span)} is not at character {start} of the text"
        )
    return mark_wsc_spans(
      text,
      spans["span1_text"],
      spans["span1_index"],
      spans["span2_text"],
      spans["span2_index"],
    ), None


class CSL(classification.ClassificationTask):
  """Paper keyword recognition: keywords (joined by spaces) vs abstract."""

  pair = True

  submission_file = "csl_predict.json"

  def __init__(self, config):
    super().__init__(config, "csl", ["0", "1"])

  def texts(self, row, path, line):
    keywords = readers.field(row, "keyword", path, line)
    if not isinstance(keywords, list):
      raise readers.DataFileError(
        f"{path} line {line}: field 'keyword' must be a list"
      )
    return " ".join(keywords), readers.field(row, "abst", path, line)


CLUE_TASKS = {
  "afqmc": AFQMC,
  "tnews": TNEWS,
  "iflytek": IFLYTEK,
  "cmnli": CMNLI,
  "ocnli": OCNLI,
  "cluewsc2020": CLUEWSC2020,
  "csl": CSL,
}
