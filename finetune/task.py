"""The fine-tuning task interface."""

import abc
import dataclasses
from typing import Any, Optional


@dataclasses.dataclass
class Example:
  """One input of a task (classification: one or two texts and a label)."""
  task_name: str
  eid: int  # position in the split (ties predictions back to examples)
  text_a: str
  text_b: Optional[str] = None
  label: Optional[str] = None
  guid: Any = None  # the id written to submission files


class Task(abc.ABC):
  """Override this class to add a new fine-tuning task."""

  def __init__(self, config, name):
    self.config = config
    self.name = name

  def get_test_splits(self):
    return ["test"]

  @abc.abstractmethod
  def get_examples(self, split):
    """The `Example`s of a split ("train", "dev", "test")."""

  @abc.abstractmethod
  def feature_specs(self):
    """{feature name: (shape, dtype)} of this task's own features."""

  @abc.abstractmethod
  def featurize(self, examples, tokenizer):
    """Feature dicts of ``examples`` (lists of ints/floats by name)."""

  @abc.abstractmethod
  def build_head(self, bert_config):
    """The task's output module, with variables under task_specific/<name>/."""

  @abc.abstractmethod
  def head_outputs(self, head, sequence_output, features, training):
    """(per-example loss [batch], {name: tensor [batch, ...]}) of a batch."""

  @abc.abstractmethod
  def get_scorer(self):
    """A fresh scorer with update(outputs) and get_results()."""

  def __repr__(self):
    return f"Task({self.name})"
