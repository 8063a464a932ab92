"""CLUE's multiple-choice tasks: C3 (free-form options) and CHID (idiom
cloze), read from their released layouts, written in CLUE's submission
formats."""

import functools
import json
import os

from finetune import multiple_choice
from finetune import readers
from model import choice_packing

CLUE_BLANK = choice_packing.CLUE_BLANK
FEWCLUE_BLANK = choice_packing.FEWCLUE_BLANK
OTHER_BLANK = choice_packing.OTHER_BLANK


def first_existing(directory, names, task, split):
  """The first of ``names`` in ``directory``, or an error naming them."""
  for name in names:
    path = os.path.join(directory, name)
    if os.path.exists(path):
      return path
  raise FileNotFoundError(
    f"{task} {split}: none of {', '.join(names)} exists in {directory}"
  )


def read_json_value(path):
  """The JSON value a whole file holds, or an error naming the file."""
  text = readers.read_text(path)
  try:
    return json.loads(text)
  except json.JSONDecodeError as error:
    raise readers.DataFileError(
      f"{path}: not valid JSON ({error.msg} at line {error.lineno})"
    ) from None


class C3(multiple_choice.MultipleChoiceTask):
  """C3: a document or dialogue, questions with 2-4 free-form options.

  Files (the original release): ``{d,m}-{train,dev}.json``, each a JSON
  list of ``[[document lines], [{"question", "choice", "answer"}],
  doc_id]``, the answer given as the option's text; the unlabelled test
  file's questions carry an ``id``. Questions without one get
  ``<file>-<document>-<question>`` (dev predictions use it).
  """

  max_choices = 4
  SPLIT_FILES = {
    "train": ("d-train.json", "m-train.json"),
    "dev": ("d-dev.json", "m-dev.json"),
  }
  TEST_FILES = ("test.json", "test1.1.json", "test1.0.json")

  def __init__(self, config):
    super().__init__(config, "c3")

  @property
  def submission_file(self):
    """CLUE 1.0's name when its test (``test1.0.json``) is the one read,
    else 1.1's."""
    try:
      test = os.path.basename(self.data_files("test")[0])
    except FileNotFoundError:  # no test file: dev predictions only
      return "c311_predict.json"
    return "c3_predict.json" if test == "test1.0.json" else "c311_predict.json"

  def data_files(self, split):
    directory = os.path.join(self.config.raw_data_dir, self.name)
    if split == "test":
      return [first_existing(directory, self.TEST_FILES, self.name, split)]
    return [os.path.join(directory, name) for name in self.SPLIT_FILES[split]]

  def get_examples(self, split):
    examples = []
    for path in self.data_files(split):
      examples += self.read_file(path, split != "test", len(examples))
    return examples

  def _documents(self, path):
    documents = read_json_value(path)
    if not isinstance(documents, list):
      raise readers.DataFileError(
        f"{path}: expected a JSON list of [lines, questions, id] documents"
      )
    for number, document in enumerate(documents):
      record = f"document {number}"
      if not (
        isinstance(document, list)
        and len(document) >= 2
        and isinstance(document[0], list)
        and isinstance(document[1], list)
      ):
        raise readers.DataFileError(
          f"{path}: {record} is not [[lines], [questions], id]"
        )
      yield number, record, document

  def read_file(self, path, labelled, first_eid=0):
    """The questions of one C3 file (answers checked when ``labelled``)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    examples = []
    for number, record, document in self._documents(path):
      context = "\n".join(str(line) for line in document[0])
      for q_number, question in enumerate(document[1]):
        where = f"{record} question {q_number}"
        if not isinstance(question, dict):
          raise readers.DataFileError(f"{path}: {where} is not an object")
        choices = readers.field(question, "choice", path, where)
        example = multiple_choice.ChoiceExample(
          self.name,
          first_eid + len(examples),
          (context,),
          str(readers.field(question, "question", path, where)),
          list(choices) if isinstance(choices, list) else [],
          guid=question.get("id", f"{stem}-{number}-{q_number}"),
        )
        self.check_question(example, path, where)
        if labelled:
          answer = readers.field(question, "answer", path, where)
          example.label = self.answer_index(choices, answer, path, where)
        examples.append(example)
    if not examples:
      raise readers.DataFileError(f"{path}: c3 has no questions")
    return examples

  def submission_lines(self, examples, outputs, tokenizer):
    """One {"id", "label"} per question, label = the option's index."""
    predicted = self.predicted_indices(outputs)
    return [{"id": e.guid, "label": predicted[e.eid]} for e in examples]

  def score_file(self, gold_path, predictions_path):
    """Accuracy of {"id", "label"} lines against a labelled C3 file, or
    against the dev split when ``gold_path`` is a directory."""
    if os.path.isdir(gold_path):
      paths = [os.path.join(gold_path, n) for n in self.SPLIT_FILES["dev"]]
    else:
      paths = [gold_path]
    examples = []
    for path in paths:
      examples += self.read_file(path, True, len(examples))
    predicted = {
      guid: readers.field(row, "label", predictions_path, guid)
      for guid, row in readers.read_predictions(predictions_path).items()
    }
    return self.accuracy_of(examples, predicted, predictions_path)


class CHID(multiple_choice.MultipleChoiceTask):
  """CHID idiom cloze: one question per blank, the candidates as options.

  Two layouts, told apart by their fields:
  - CLUE's: JSON lines ``{"candidates": [10 idioms], "content": [passages
    with numbered blanks "#idiom000123#"]}`` and, for labelled splits,
    ``<split>_answer.json`` mapping each blank to its candidate's index;
    predictions go to ``chid11_predict.json`` as one {blank: index} object;
  - FewCLUE's: ``{"id", "candidates", "content" with one "#idiom#",
    "answer"}`` lines; predictions go to ``chidf_predict.json`` as {"id",
    "answer"} lines.
  The asked blank becomes [MASK] tokens and the passage's other blanks
  the placeholder `OTHER_BLANK`; a long passage is cut to a window around
  the asked blank.
  """

  max_choices = 10
  SPLIT_FILES = {
    "train": ("train.json", "train_few_all.json"),
    "dev": ("dev.json", "dev_few_all.json"),
    "test": ("test.json", "test_public.json"),
  }

  def __init__(self, config):
    super().__init__(config, "chid")

  def data_files(self, split):
    directory = os.path.join(self.config.raw_data_dir, self.name)
    return [first_existing(directory, self.SPLIT_FILES[split], "chid", split)]

  @functools.cached_property
  def submission_file(self):
    """CLUE's or FewCLUE's file name, after the test file's layout (read
    once: every dev evaluation asks for it)."""
    try:
      path = self.data_files("test")[0]
    except FileNotFoundError:  # no test file: dev predictions only
      return "chid11_predict.json"
    rows = readers.read_jsonl(path)
    layout = self.layout(rows[0][1], path, rows[0][0]) if rows else "clue"
    return "chid11_predict.json" if layout == "clue" else "chidf_predict.json"

  def get_examples(self, split):
    path = self.data_files(split)[0]
    return self.read_file(path, split != "test")

  @staticmethod
  def layout(row, path, line):
    """ "clue" or "fewclue", from a row's fields."""
    content = row.get("content")
    if "candidates" in row and isinstance(content, list):
      return "clue"
    if "candidates" in row and isinstance(content, str) and "id" in row:
      return "fewclue"
    raise readers.DataFileError(
      f"{path} line {line}: neither CLUE's CHID layout (candidates, content "
      f"as a list of passages) nor FewCLUE's (id, candidates, content as "
      f"one passage, answer)"
    )

  def read_file(self, path, labelled):
    rows = readers.read_jsonl(path)
    if not rows:
      raise readers.DataFileError(f"{path}: chid has no rows")
    layout = self.layout(rows[0][1], path, rows[0][0])
    if layout == "clue":
      answers = self._answers(path) if labelled else None
      examples = self._clue_examples(rows, path, answers)
    else:
      examples = self._fewclue_examples(rows, path, labelled)
    if not examples:
      raise readers.DataFileError(f"{path}: chid has no blanks")
    return examples

  def _answers(self, path):
    stem = os.path.splitext(path)[0]
    answer_path = stem + "_answer.json"
    answers = read_json_value(answer_path)
    if not isinstance(answers, dict):
      raise readers.DataFileError(
        f"{answer_path}: expected one JSON object {{blank id: index}}"
      )
    return answers, answer_path

  def _candidates(self, row, path, line):
    candidates = readers.field(row, "candidates", path, line)
    return list(candidates) if isinstance(candidates, list) else []

  def _clue_examples(self, rows, path, answers):
    """One example per blank; ``answers`` is (the answer file's {blank:
    index}, its path) for labelled files, else None."""
    answers, answer_path = answers or ({}, None)
    examples = []
    for line, row in rows:
      self.layout(row, path, line)
      candidates = self._candidates(row, path, line)
      for passage in row["content"]:
        blanks = CLUE_BLANK.findall(str(passage))
        parts = CLUE_BLANK.split(str(passage))
        for target, blank in enumerate(blanks):
          where = f"line {line} blank {blank}"
          context = (
            OTHER_BLANK.join(parts[: target + 1]),
            OTHER_BLANK.join(parts[target + 1 :]),
          )
          example = multiple_choice.ChoiceExample(
            self.name, len(examples), context, "", candidates, None, blank
          )
          self.check_question(example, path, where)
          if answer_path:
            if blank not in answers:
              raise readers.DataFileError(
                f"{answer_path}: blank {blank} of {path} line {line} has "
                f"no answer"
              )
            example.label = multiple_choice.option_index(
              answers[blank], len(candidates), f"{answer_path}: {blank}"
            )
          examples.append(example)
    return examples

  def _fewclue_examples(self, rows, path, labelled):
    examples = []
    for line, row in rows:
      self.layout(row, path, line)
      content = row["content"]
      if content.count(FEWCLUE_BLANK) != 1:
        raise readers.DataFileError(
          f"{path} line {line}: content has {content.count(FEWCLUE_BLANK)} "
          f"{FEWCLUE_BLANK} blanks; FewCLUE's layout has exactly one"
        )
      candidates = self._candidates(row, path, line)
      example = multiple_choice.ChoiceExample(
        self.name, len(examples), tuple(content.split(FEWCLUE_BLANK)), "",
        candidates, None, row["id"],
      )  # fmt: skip
      self.check_question(example, path, f"line {line}")
      if labelled:
        answer = readers.field(row, "answer", path, line)
        example.label = multiple_choice.option_index(
          answer, len(candidates), f"{path} line {line}: field 'answer'"
        )
      examples.append(example)
    return examples

  def submission_lines(self, examples, outputs, tokenizer):
    """CLUE's layout: one {blank: index} object; FewCLUE's: {"id",
    "answer"} lines."""
    predicted = self.predicted_indices(outputs)
    if examples and isinstance(examples[0].guid, str):
      return [{e.guid: predicted[e.eid] for e in examples}]
    return [{"id": e.guid, "answer": predicted[e.eid]} for e in examples]

  def prediction_count(self, lines):
    if len(lines) == 1 and "id" not in lines[0]:
      return len(lines[0])
    return len(lines)

  def read_predictions(self, path):
    """{str(blank or id): index} of either submission format."""
    rows = readers.read_jsonl(path)
    if len(rows) == 1 and "id" not in rows[0][1]:
      return {str(k): v for k, v in rows[0][1].items()}
    predicted = {}
    for line, row in rows:
      guid = readers.field(row, "id", path, line)
      predicted[str(guid)] = readers.field(row, "answer", path, line)
    return predicted

  def score_file(self, gold_path, predictions_path):
    """Accuracy of a submission file against a labelled CHID file (CLUE's
    layout reads the ``_answer.json`` beside it)."""
    examples = self.read_file(gold_path, True)
    predicted = self.read_predictions(predictions_path)
    return self.accuracy_of(examples, predicted, predictions_path)


CHOICE_TASKS = {"c3": C3, "chid": CHID}
