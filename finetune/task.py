"""The fine-tuning task interface."""

import abc
import dataclasses
import os
from typing import Any
from typing import Optional

DEBUG_EXAMPLES = 100


@dataclasses.dataclass
class Example:
  """One input of a task (classification: one or two texts and a label)."""

  task_name: str
  eid: int  # position in the split (ties predictions back to examples)
  text_a: str
  text_b: Optional[str] = None
  label: Optional[str] = None
  guid: Any = None  # the id written to submission files


def check_distinct_ids(task, lines):
  """Submission lines of {"id", ...} objects need one id each: a file whose
  ids repeat cannot be scored (an error naming the task, never written)."""
  seen = set()
  for line in lines:
    if not isinstance(line, dict) or "id" not in line:
      continue
    key = str(line["id"])
    if key in seen:
      raise ValueError(
        f"task {task.name}: two examples have the id {line['id']!r}, so its "
        f"predictions cannot be told apart; give every row its own id (the "
        f"task's id field) or leave the field out (ids are then positions)"
      )
    seen.add(key)


class Scorer(abc.ABC):
  """Accumulates a split's outputs, then computes its metrics."""

  @abc.abstractmethod
  def update(self, outputs):
    """Adds a batch of outputs ({name: array [batch, ...]})."""

  @abc.abstractmethod
  def get_results(self):
    """{metric name: float}; the first metric picks the best epoch."""

  def output_files(self):
    """{name: JSON-able data} to write beside the results (after
    `get_results`), e.g. QA predictions; none by default."""
    return {}


class Task(abc.ABC):
  """Override this class to add a new fine-tuning task.

  The runner calls exactly these methods: `split_examples` (which calls
  `get_examples`), `feature_specs`, `featurize`, `build_head`,
  `loss_and_outputs`, `get_scorer` and, for tasks with a ``submission_file``,
  `submission_lines`; ``score_predictions.py`` calls `score_file`.
  """

  submission_file: Optional[str] = None  # test predictions file, if any
  # options per example of a multiple-choice task (its inputs are one row
  # per option); None for every other task
  max_choices: Optional[int] = None
  # outputs shaped [batch, seq_len, ...], with the value that pads them
  # back to max_seq_length when a batch was cut shorter (bucket_by_length)
  token_outputs: dict = {}

  def __init__(self, config, name):
    self.config = config
    self.name = name

  @abc.abstractmethod
  def get_examples(self, split):
    """The examples of a split ("train", "dev", "test")."""

  @abc.abstractmethod
  def feature_specs(self):
    """{feature name: (shape, dtype)} of this task's own features."""

  @abc.abstractmethod
  def featurize(self, examples, tokenizer):
    """Feature dicts of ``examples`` (lists of ints by feature name)."""

  @abc.abstractmethod
  def build_head(self, bert_config):
    """The task's output module, with variables under task_specific/<name>/."""

  @abc.abstractmethod
  def loss_and_outputs(self, head, sequence_output, features, training):
    """The task's loss and outputs of a batch: (per-example loss [batch],
    the training loss of each example, and {name: tensor [batch, ...]},
    what predictions, scorers and exports read)."""

  @abc.abstractmethod
  def get_scorer(self, examples, tokenizer):
    """A fresh `Scorer` for the outputs of ``examples`` (one split)."""

  def submission_lines(self, examples, outputs, tokenizer):
    """JSON-able lines of the test predictions file, in example order."""
    raise NotImplementedError(f"task {self.name} writes no test predictions")

  def prediction_count(self, lines):
    """How many predictions `submission_lines` wrote (one per line)."""
    return len(lines)

  def score_file(self, gold_path, predictions_path):
    """The task's metrics of a predictions file against labelled data (the
    functions the dev scorer uses)."""
    raise NotImplementedError(f"task {self.name} cannot score files")

  def data_files(self, split):
    """The files a split is read from (``<raw_data_dir>/<task>/<split>.json``
    unless the task says otherwise)."""
    return [os.path.join(self.config.raw_data_dir, self.name, split + ".json")]

  def added_examples(self, split, examples):
    """Examples derived from a split's (capped) examples and trained on too,
    e.g. the swapped pairs of ``double_unordered``; none by default."""
    return []

  def split_examples(self, split):
    """`get_examples`, capped at `DEBUG_EXAMPLES` in debug mode (as the
    official code reads 100 lines of each file when debugging) and at the
    ``max_examples`` of the split, then `added_examples` of what is kept."""
    examples = self.get_examples(split)
    if getattr(self.config, "debug", False):
      examples = examples[:DEBUG_EXAMPLES]
    cap = getattr(self.config, "max_examples", {}).get(split)
    examples = examples[:cap] if cap else examples
    return examples + self.added_examples(split, examples)

  def __repr__(self):
    return f"Task({self.name})"
