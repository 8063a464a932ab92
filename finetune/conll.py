"""Your own tagging task from CoNLL-style files (one character and its tag
per line, a blank line between sentences), described in hparams:
``{"type": "tagging", "data_dir": ..., "entity_types": [...] or "infer",
"scheme": "BIO" or "BIOES"}``; files ``{train,dev,test}.txt``."""

import os

from finetune import readers
from finetune import tagging
from finetune import task


def read_conll(path):
  """[(text, tags)] of a CoNLL-style file: one character and its tag per
  line, a blank line between sentences."""
  sentences, chars, tags = [], [], []
  lines = readers.read_text(path).split("\n") + [""]
  for number, line in enumerate(lines, 1):
    if not line.strip():
      if chars:
        sentences.append(("".join(chars), tags))
      chars, tags = [], []
      continue
    parts = line.split()
    if len(parts) != 2 or len(parts[0]) != 1:
      raise readers.DataFileError(
        f"{path} line {number}: expected one character and its tag"
      )
    chars.append(parts[0])
    tags.append(parts[1])
  return sentences


class ConllTaggingTask(tagging.TaggingTask):
  """Your own tagging task from CoNLL-style files, described in hparams:
  ``{"type": "tagging", "data_dir": ..., "entity_types": [...] or "infer",
  "scheme": "BIO" or "BIOES"}``; files ``{train,dev,test}.txt``."""

  def __init__(self, config, name, spec):
    self.data_dir = spec.get("data_dir") or os.path.join(
      config.raw_data_dir, name
    )
    types = spec.get("entity_types", "infer")
    if types == "infer":
      found = {
        tag.split("-", 1)[1]
        for _, tags in read_conll(os.path.join(self.data_dir, "train.txt"))
        for tag in tags
        if tag != "O"
      }
      types = sorted(found)
    super().__init__(
      config, name, types, spec.get("scheme", config.tagging_scheme)
    )
    self.file_suffix = ".txt"

  def read_examples(self, path, labelled):
    """Examples of a CoNLL file; its BIO or BIOES tags are re-encoded in
    this task's scheme."""
    kinds = {t.split("-", 1)[1] for t in self.tags if t != "O"}
    examples = []
    for text, tags in read_conll(path):
      spans = tagging.tags_to_spans(tags)
      unknown = [kind for _, _, kind in spans if kind not in kinds]
      if unknown and labelled:
        raise readers.DataFileError(
          f"{path}: entity type {readers.shown(unknown[0])} is not one of "
          f"{sorted(kinds)}"
        )
      label = (
        tagging.span_tags(len(text), spans, self.scheme) if labelled else None
      )
      # a CoNLL file has no ids: a sentence's id is its position
      examples.append(
        task.Example(
          self.name, len(examples), text, None, label=label, guid=len(examples)
        )
      )
    if not examples:
      raise readers.DataFileError(f"{path}: {self.name} has no examples")
    return examples
