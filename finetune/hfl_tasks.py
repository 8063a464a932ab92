"""The classification sets HFL reports Chinese ELECTRA on, in the TSV
layouts of their releases (as HFL's Chinese-ELECTRA code reads them).

Files are ``<data-dir>/finetuning_data/<task>/{train,dev,test}.tsv``, tab
separated with no quoting. A first line whose label column names a column
(not a label, nor an unlabelled test file's placeholder: empty or a number)
is a header and skipped. Test files may carry labels (HFL scores test);
they are only used when scored with score_predictions.py.

Columns: lcqmc and bqcorpus: text_a, text_b, label ("0"/"1");
chnsenticorp: label ("0"/"1"), text; xnli: premise, hypothesis, label, or
XNLI's own dev/test layout (language, gold_label, ..., sentence1 in column
6, sentence2 in 7) of which the zh rows are read.
"""

from finetune import classification
from finetune import clue_tasks
from finetune import readers
from finetune import task


def is_header_label(label, label_ids):
  """A first row's label cell that names a column: neither a label, nor a
  placeholder value of an unlabelled test file (empty, a number)."""
  if label in label_ids or not label:
    return False
  try:
    float(label)
  except ValueError:
    return True
  return False


class PositionalTSVTask(classification.ClassificationTask):
  """A task whose TSV rows hold (text_a, text_b, label) at fixed columns."""

  file_suffix = ".tsv"
  columns = (0, 1, 2)  # text_a, text_b (or None), label

  @property
  def pair(self):
    return self.columns[1] is not None

  def layout(self, fields):
    """The (text_a, text_b, label) columns of a row, or None to skip it."""
    return self.columns

  def clean_label(self, label):
    return label.strip()

  def texts(self, fields, path, line):
    a, b, _ = self.layout(fields)
    return fields[a], (fields[b] if b is not None else None)

  def read_examples(self, path, labelled):
    examples = []
    for index, (line, fields) in enumerate(readers.read_tsv_columns(path)):
      layout = self.layout(fields)
      if layout is None:
        continue
      label_column = layout[2]
      needed = max(c for c in layout if c is not None) + 1
      if len(fields) < needed:
        raise readers.DataFileError(
          f"{path} line {line}: {len(fields)} tab-separated fields, "
          f"{self.name} needs {needed}"
        )
      label = self.clean_label(fields[label_column])
      if index == 0 and is_header_label(label, self.label_ids):
        continue  # a header line
      if labelled:
        self.check_label(label, path, line)
      text_a, text_b = self.texts(fields, path, line)
      examples.append(
        task.Example(
          self.name, len(examples), text_a, text_b,
          label if labelled else None, len(examples),
        )
      )  # fmt: skip
    if not examples:
      raise readers.DataFileError(f"{path}: {self.name} has no examples")
    return examples


class LCQMC(PositionalTSVTask):
  """Question matching (LCQMC)."""

  submission_file = "lcqmc_predict.json"

  def __init__(self, config):
    super().__init__(config, "lcqmc", ["0", "1"])


class BQCorpus(PositionalTSVTask):
  """Bank question matching (BQ Corpus)."""

  submission_file = "bqcorpus_predict.json"

  def __init__(self, config):
    super().__init__(config, "bqcorpus", ["0", "1"])


class ChnSentiCorp(PositionalTSVTask):
  """Sentiment of hotel, book and product reviews."""

  submission_file = "chnsenticorp_predict.json"
  columns = (1, None, 0)

  def __init__(self, config):
    super().__init__(config, "chnsenticorp", ["0", "1"])


class XNLI(PositionalTSVTask):
  """XNLI (Chinese): translated MultiNLI training data, XNLI dev/test."""

  submission_file = "xnli_predict.json"

  def __init__(self, config):
    super().__init__(config, "xnli", clue_tasks.NLI_LABELS)

  def layout(self, fields):
    if len(fields) >= 8:  # XNLI's own dev/test layout, every language
      return (6, 7, 1) if fields[0].strip() in ("zh", "language") else None
    return (0, 1, 2)

  def clean_label(self, label):
    # the translated training data spells it "contradictory"
    label = label.strip()
    return "contradiction" if label == "contradictory" else label


HFL_TASKS = {
  "lcqmc": LCQMC,
  "bqcorpus": BQCorpus,
  "chnsenticorp": ChnSentiCorp,
  "xnli": XNLI,
}
