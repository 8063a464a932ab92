"""What each task head of a fine-tuned checkpoint is, for the exporters.

A fine-tuned checkpoint holds ``task_specific/<task>/dense/{kernel,bias}``
for classification, regression and tagging heads alike: the weights do not
say which, nor what output i means. The task does, so every fine-tuned
checkpoint directory gets ``tasks.json`` beside it (`write_descriptions`),
and the exporters read it back (`head_specs`); for checkpoints written
before that file existed, the task registry and the passed hparams
describe the head instead.

A `HeadSpec` says what an exporter must reproduce of the trainer:
- ``kind``: "classification", "regression" or "tagging";
- ``labels``: output i means ``labels[i]`` (a tag for tagging; one name
  for regression);
- ``value_scale``, ``value_shift``: a regression output y means the value
  ``y * value_scale + value_shift`` on the label's own scale (the official
  normalisation is ``(value - min) / max``);
- ``segment_id``: the segment id the task feeds on every real token (1 for
  tagging, as the official tagging task), None when texts get the usual 0
  (first text) and 1 (second text);
- ``pair``: the task classifies text pairs (``text``, ``text_b``);
- ``max_seq_length``: the packed length the task was trained with;
- ``qa``: for span-extraction QA (kind "qa"), the predictor's settings
  (`QA_SETTINGS`) and ``has_unanswerable`` (the labelled data had
  unanswerable questions, so the no-answer threshold applies);
- ``cloze``: for multiple choice (kind "multiple_choice", whose
  ``labels`` are the option indices "0".."n-1"), the context holds a
  ``#idiom#`` blank the options fill (CHID);
- ``scheme``: for tagging, the tag encoding ("BIO" or "BIOES");
- ``spelling``: for tagging, {entity type: how submission files spell it}
  where they differ (CLUENER's "goverment").
"""

import collections
import os

from finetune import choice_tasks
from finetune import multiple_choice
from finetune import qa
from finetune import regression
from finetune import tagging
from interop import model_record
from util import files as files_lib

DESCRIPTIONS_FILE = "tasks.json"
KINDS = ("classification", "regression", "tagging", "qa", "multiple_choice")
# what a QA task's predictor reads of its config
QA_SETTINGS = (
  "max_query_length", "doc_stride", "n_best_size", "max_answer_length",
  "answerable_classifier", "answerable_uses_start_logits",
  "joint_prediction", "beam_size", "qa_na_threshold",
)  # fmt: skip

HeadSpec = collections.namedtuple(
  "HeadSpec",
  "kind labels value_scale value_shift segment_id pair max_seq_length qa cloze "
  "scheme spelling",
  defaults=(False, None, None, False, None, None),
)


def describe(task):
  """The `HeadSpec` of a task object, or None for a task of another kind."""
  length = getattr(task.config, "max_seq_length", None)
  if isinstance(task, qa.QATask):
    settings = {k: getattr(task.config, k) for k in QA_SETTINGS}
    settings["has_unanswerable"] = task.has_unanswerable
    return HeadSpec("qa", [], 1.0, 0.0, None, True, length, settings)
  if isinstance(task, multiple_choice.MultipleChoiceTask):
    labels = [str(i) for i in range(task.max_choices)]
    cloze = isinstance(task, choice_tasks.CHID)
    return HeadSpec(
      "multiple_choice", labels, 1.0, 0.0, None, True, length, None, cloze
    )
  if isinstance(task, tagging.TaggingTask):
    return HeadSpec(
      "tagging", list(task.tags), 1.0, 0.0, 1, False, length,
      scheme=task.scheme, spelling=dict(getattr(task, "spelling", {})) or None,
    )  # fmt: skip
  pair = bool(getattr(task, "pair", False))
  if isinstance(task, regression.RegressionTask):
    scale = (task.max_value, task.min_value)
    return HeadSpec("regression", [task.name], *scale, None, pair, length)
  labels = getattr(task, "label_list", None)
  if labels is None:
    return None
  return HeadSpec("classification", list(labels), 1.0, 0.0, None, pair, length)


def write_descriptions(directory, tasks):
  """Writes ``tasks.json`` ({task: HeadSpec fields}) into ``directory``."""
  described = {}
  for task in tasks:
    spec = describe(task)
    if spec is not None:
      described[task.name] = spec._asdict()
  files_lib.atomic_write_json(
    described, os.path.join(directory, DESCRIPTIONS_FILE)
  )


def read_descriptions(checkpoint):
  """{task: HeadSpec} of the ``tasks.json`` beside ``checkpoint``, or None
  when there is none."""
  directory = model_record.directory_of(checkpoint)
  path = os.path.join(directory or ".", DESCRIPTIONS_FILE)
  if directory is None or not os.path.exists(path):
    return None
  specs = {}
  for task, fields in files_lib.load_json(path).items():
    try:
      spec = HeadSpec(**fields)
    except TypeError as error:
      raise ValueError(f"{path}: task {task!r}: {error}") from None
    if spec.kind not in KINDS:
      raise ValueError(
        f"{path}: task {task!r} has kind {spec.kind!r}, not one of {KINDS}"
      )
    specs[task] = spec
  return specs
