"""What built a checkpoint, recorded beside it: ``model.json``.

Every checkpoint directory our trainers and converters write gets a
``model.json`` (as transformers keeps ``config.json`` beside its weights)::

  {"built_by": "run_finetuning.py",
   "hparams": {"model_size": "tiny", "model_hparam_overrides": {},
               "embedding_size": null, "vocab_size": 21128,
               "do_lower_case": true, "max_seq_length": 128},
   "shape": {"hidden_size": 312, "num_hidden_layers": 4, ...},
   "task_hparams": {"task_names": ["tnews"], "custom_tasks": {}, ...}}

``hparams`` rebuild the model (pretraining checkpoints add the generator's
shape); ``shape`` is the discriminator it resolved to, against which a
reader checks what it was told; ``task_hparams`` (fine-tuned checkpoints)
describe the tasks, whose heads ``tasks.json`` beside it describes. The
exporters, the converter, predict-only runs, ``init_checkpoint`` and
``teacher_checkpoint`` read it: the passed ``--hparams`` win, and a
passed shape that resolves to another model than the recorded one is an
error naming both. Directories written before this file existed keep
working with ``--hparams`` (a pretraining directory's ``config.json`` of
all its hparams is read the same way).

Example::

  write(model_dir, config, "run_pretraining.py")
  hparams = recorded_hparams(model_dir)   # {} when nothing is recorded
"""

import json
import os

from model import model_sizes
from util import files as files_lib

RECORD_FILE = "model.json"
# where a fine-tuning trial keeps its epoch checkpoints, beside its records
STEP_CHECKPOINTS = "steps"
# what rebuilds the model (a config may lack the generator's: then its
# checkpoints have no generator)
MODEL_HPARAMS = (
  "model_size", "model_hparam_overrides", "embedding_size", "vocab_size",
  "do_lower_case", "max_seq_length", "generator_hidden_size",
  "generator_layers", "untied_generator_embeddings", "untied_generator",
  "two_tower_generator", "electra_objective", "electric_objective",
)  # fmt: skip
# what describes a fine-tuned checkpoint's tasks
TASK_HPARAMS = (
  "task_names", "custom_tasks", "tagging_scheme", "qa_has_unanswerable",
)  # fmt: skip
SHAPE_FIELDS = (
  "hidden_size", "num_hidden_layers", "num_attention_heads",
  "intermediate_size", "vocab_size", "max_position_embeddings",
  "type_vocab_size", "hidden_act", "embedding_size", "attention_head_size",
)  # fmt: skip


class RecordError(ValueError):
  """A record that cannot be read, or hparams that contradict it."""


def shape_of(config):
  """{field: value} of the discriminator a config builds."""
  bert_config = model_sizes.get_bert_config(config)
  shape = {
    k: getattr(bert_config, k) for k in SHAPE_FIELDS if k != "embedding_size"
  }
  shape["embedding_size"] = config.embedding_size or bert_config.hidden_size
  return shape


def describe(config, built_by, task_hparams=None):
  """The record of a checkpoint built with ``config`` (``task_hparams``: of
  a fine-tuned one, when ``config`` is not a fine-tuning config)."""
  hparams = {k: getattr(config, k) for k in MODEL_HPARAMS if hasattr(config, k)}
  shape = shape_of(config)
  if getattr(config, "debug", False):
    # debug mode shrinks the model: record what was built, not the size name
    hparams["model_hparam_overrides"] = {
      k: v for k, v in shape.items() if k != "embedding_size"
    }
  record = {"built_by": built_by, "hparams": hparams, "shape": shape}
  if task_hparams:
    record["task_hparams"] = dict(task_hparams)
  elif hasattr(config, "task_names") and hasattr(config, "custom_tasks"):
    record["task_hparams"] = {k: getattr(config, k) for k in TASK_HPARAMS}
  return files_lib.json_roundtrip(record)


def write(directory, config, built_by, task_hparams=None):
  """Writes ``model.json`` into ``directory`` (atomically), and a copy of
  the config's ``vocab_file`` as ``vocab.txt`` when it has none, so that
  the directory alone tokenizes as its model was trained."""
  os.makedirs(directory, exist_ok=True)
  files_lib.atomic_write_json(
    describe(config, built_by, task_hparams),
    os.path.join(directory, RECORD_FILE),
  )
  vocab = getattr(config, "vocab_file", None)
  copy = os.path.join(directory, "vocab.txt")
  if vocab and os.path.isfile(vocab) and not os.path.exists(copy):
    with open(vocab, "rb") as f:
      files_lib.atomic_write_bytes(f.read(), copy)


def directory_of(checkpoint):
  """The directory whose records describe a checkpoint path (a directory
  or a prefix): the one it lies in, or for a fine-tuning trial's epoch
  checkpoints (``<trial>/steps/``, no records of their own) the trial's;
  None for anything else (a dict of sources, None)."""
  if not isinstance(checkpoint, str) or not checkpoint:
    return None
  directory = (
    checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
  )
  parent = os.path.dirname(os.path.abspath(directory))
  if (
    os.path.basename(os.path.abspath(directory)) == STEP_CHECKPOINTS
    and not os.path.exists(os.path.join(directory, RECORD_FILE))
    and os.path.exists(os.path.join(parent, RECORD_FILE))
  ):
    return parent
  return directory


def _pretraining_config(directory):
  """The hparams in the ``config.json`` run_pretraining.py keeps beside
  its checkpoints (None when there is none, or it is transformers')."""
  path = os.path.join(directory, "config.json")
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
  except (OSError, ValueError):
    return None
  if not isinstance(saved, dict) or "model_type" in saved:
    return None
  return {k: saved[k] for k in MODEL_HPARAMS if k in saved}


def read(checkpoint):
  """(path, record) of the ``model.json`` beside ``checkpoint``, else a
  record made of a pretraining directory's ``config.json`` (no shape to
  check), else (None, None)."""
  directory = directory_of(checkpoint)
  if directory is None:
    return None, None
  path = os.path.join(directory or ".", RECORD_FILE)
  if os.path.exists(path):
    try:
      record = files_lib.load_json(path)
    except ValueError as error:
      raise RecordError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(
      record.get("hparams"), dict
    ):
      raise RecordError(f"{path}: expected an object with 'hparams'")
    return path, record
  hparams = _pretraining_config(directory or ".")
  if hparams:
    return os.path.join(directory, "config.json"), {"hparams": hparams}
  return None, None


def recorded_hparams(checkpoint, given=None, exclude=()):
  """The recorded hparams ``given`` does not set ({} with no record); a
  ``vocab.txt`` beside the checkpoint becomes ``vocab_file``."""
  given = given or {}
  _, record = read(checkpoint)
  if record is None:
    return {}
  hparams = dict(record["hparams"])
  vocab = os.path.join(directory_of(checkpoint) or ".", "vocab.txt")
  if os.path.exists(vocab):
    hparams["vocab_file"] = vocab
  return {
    k: v for k, v in hparams.items() if k not in given and k not in exclude
  }


def recorded_task_hparams(checkpoint):
  """The recorded task hparams of a fine-tuned checkpoint ({} if none)."""
  _, record = read(checkpoint)
  return dict((record or {}).get("task_hparams") or {})


def check(checkpoint, config, what):
  """An error naming both values when ``config`` builds another model than
  the one recorded beside ``checkpoint`` (or casts text another way).

  Args:
    checkpoint: the checkpoint path.
    config: the config about to build (or load into) the model.
    what: how the user named the checkpoint, for messages
      ("--checkpoint", "hparam 'init_checkpoint'").
  """
  path, record = read(checkpoint)
  if record is None:
    return
  differences = []
  recorded_shape = record.get("shape")
  if recorded_shape:
    built = shape_of(config)
    differences += [
      f"{field} {built.get(field)!r} (the checkpoint has "
      f"{recorded_shape[field]!r})"
      for field in SHAPE_FIELDS
      if field in recorded_shape and built.get(field) != recorded_shape[field]
    ]
  recorded_case = record["hparams"].get("do_lower_case")
  if recorded_case is not None and config.do_lower_case != recorded_case:
    differences.append(
      f"do_lower_case {config.do_lower_case!r} (it was trained with "
      f"{recorded_case!r})"
    )
  if differences:
    raise RecordError(
      f"{what} {checkpoint}: the hparams give {'; '.join(differences)}, as "
      f"recorded in {path}; leave those hparams out (they are read from "
      f"it) or pass the recorded values"
    )
