"""Converts a checkpoint between our format, the official TF1 layout and
transformers (Hugging Face) directories.

Usage:
  python convert_checkpoint.py --checkpoint data/models/tiny_zh \
      --output exported/model.ckpt-1000000               # official TF1
  python convert_checkpoint.py --checkpoint data/models/tiny_zh \
      --output exported/hf --format hf --vocab-file data/vocab.txt \
      [--hparams configs/electra_tiny_zh.json]            # transformers
  python convert_checkpoint.py --checkpoint hfl-small-discriminator/ \
      --output data/models/hfl_small/model --format tf2   # ours
--checkpoint may be ours, an official TF1 one or a transformers ELECTRA
directory. --format hf writes discriminator/, generator/ (when the
checkpoint has one) or one directory per fine-tuned task head; it needs
the model's shape: what the checkpoint records (the model.json our
trainers and converters write beside it, a transformers config.json),
else --hparams. TF1 and TF2 outputs get a model.json of their own.
"""

import argparse
import os

import configure_finetuning
import configure_pretraining
from finetune import head_specs
from finetune import task_builder
from interop import checkpoints
from interop import hf_config
from interop import hf_export
from interop import loading
from interop import model_record
from interop import sources
from interop import writers
from model import model_sizes
from pretrain import pretraining_model
from util import cli
from util import files as files_lib
from util import logs

FORMATS = ("tf1", "tf2", "hf")


def model_hparams(checkpoint, hparams, job="--format hf"):
  """The given hparams, completed from what the checkpoint records (its
  model.json, a pretraining directory's config.json, a transformers
  config.json); an error naming ``job`` when neither gives the shape."""
  merged = dict(sources.hparams_from_checkpoint(checkpoint, hparams))
  merged.update(hparams)
  if not any(k in merged for k in hf_config.SHAPE_HPARAMS):
    raise ValueError(
      f"{job} needs the model's shape: {checkpoint} records none, so "
      f"pass --hparams (its pretraining hparams; the number of attention "
      f"heads cannot be read from the weights)"
    )
  return merged


# fine-tuning hparams that describe task heads, not the model's shape
TASK_HPARAMS = ("custom_tasks", "tagging_scheme", "qa_has_unanswerable")


def shape_and_task_hparams(hparams):
  """``hparams`` (pretraining or fine-tuning ones, e.g. the preset a model
  was fine-tuned with) less the fine-tuning ones that neither shape the
  model nor describe its heads; a name neither job knows is an error."""
  known = configure_pretraining.PretrainingConfig("x", "").to_dict()
  finetuning = configure_finetuning.FinetuningConfig("x", "").to_dict()
  kept = {}
  for key, value in hparams.items():
    if key in known or key in TASK_HPARAMS:
      kept[key] = value
    elif key not in finetuning:
      # the pretraining config's own error, with its "did you mean"
      configure_pretraining.PretrainingConfig("x", "", **{key: value})
  return kept


def record_conversion(
  checkpoint, output, hparams, built_by="convert_checkpoint.py", shown_as=None
):
  """Writes the converted checkpoint's model.json (and vocab.txt, and the
  tasks.json of a fine-tuned one) beside ``output``, from what the source
  records and ``hparams``; says so (naming ``shown_as``, by default the
  output's directory) when neither gives the shape."""
  directory = os.path.dirname(os.path.abspath(output))
  merged = dict(sources.hparams_from_checkpoint(checkpoint, hparams))
  merged.update(shape_and_task_hparams(hparams))
  task_hparams = dict(model_record.recorded_task_hparams(checkpoint))
  task_hparams.update({k: merged.pop(k) for k in TASK_HPARAMS if k in merged})
  if not any(k in merged for k in hf_config.SHAPE_HPARAMS):
    logs.log(
      f"{checkpoint} records no shape and none was passed (--hparams): "
      f"{shown_as or directory} gets no model.json, so its readers need "
      f"--hparams"
    )
    return
  config = configure_pretraining.PretrainingConfig("convert", "", **merged)
  model_record.write(directory, config, built_by, task_hparams or None)
  saved = os.path.join(
    model_record.directory_of(checkpoint) or ".", head_specs.DESCRIPTIONS_FILE
  )
  if os.path.exists(saved):
    with open(saved, "rb") as f:
      files_lib.atomic_write_bytes(
        f.read(), os.path.join(directory, head_specs.DESCRIPTIONS_FILE)
      )


def registry_spec(task, hparams):
  """The `HeadSpec` the task registry gives a task name (None when the
  name is unknown or its description cannot be built)."""
  config = configure_finetuning.FinetuningConfig(
    "export",
    "",
    task_names=[task],
    **{k: hparams[k] for k in TASK_HPARAMS if k in hparams},
  )
  try:
    return head_specs.describe(task_builder.get_task(config, task))
  except (ValueError, OSError):
    return None


def task_head_specs(checkpoint, shapes, hparams):
  """{task: `HeadSpec`} of the dense task heads in a checkpoint.

  The ``tasks.json`` that fine-tuning writes beside its checkpoints says
  what each head is; without it, the task registry (and ``custom_tasks``,
  ``tagging_scheme`` in hparams) does. A head neither knows is exported as
  a classifier with labels LABEL_0, LABEL_1, ...
  """
  saved = head_specs.read_descriptions(checkpoint) or {}
  specs = {}
  for task, kernel in checkpoints.dense_heads(shapes).items():
    num_outputs = shapes[kernel][1]
    spec = saved.get(task) or registry_spec(task, hparams)
    if spec is not None and spec.kind == "multiple_choice":
      expected = 1  # one score per option
    else:
      expected = None if spec is None else len(spec.labels)
    if expected != num_outputs:
      labels = [f"LABEL_{i}" for i in range(num_outputs)]
      logs.log(f"  {task}: head unknown; a classifier with {labels[0]}...")
      spec = head_specs.HeadSpec("classification", labels, 1.0, 0.0, None)
    specs[task] = spec
  return specs


def heads_to_export(shapes, specs, task=None):
  """{task: `HeadSpec`} of the heads --format hf writes: every one, or
  ``task``'s. A head that is not one dense layer (QA, with its
  answerability layers) has no transformers class: an error pointing to
  the SavedModel."""
  present = {
    name.split("/")[1] for name in shapes if name.startswith("task_specific/")
  }
  if task is not None:
    if task not in present:
      raise ValueError(
        f"--task {task!r} is not a task head of the checkpoint; it holds "
        f"{', '.join(sorted(present)) or 'none'}"
      )
    present = {task}
  others = sorted(present - set(specs))
  if others:
    raise ValueError(
      f"task_specific/{others[0]}: transformers has no class for this head "
      f"(the official QA head with its answerability layers); export it "
      f"with export_savedmodel.py --task {others[0]}, whose serving_default "
      f"answers questions from text"
    )
  return {name: specs[name] for name in sorted(present)}


def load_tensors(source, config):
  """{official name: array} of the model and task heads, shape-checked."""
  model = pretraining_model.PretrainingModel(config)
  report = loading.init_from_checkpoint(model.official_variables(), source)
  logs.log(report.summary())
  variables = model.official_variables()
  tensors = {name: variables[name].numpy() for name in report.loaded}
  hidden = model_sizes.get_bert_config(config).hidden_size
  for kernel in checkpoints.dense_heads(source.shapes).values():
    if source.shapes[kernel][0] != hidden:
      raise ValueError(
        f"{source.path}: {kernel} has shape {source.shapes[kernel]}, not "
        f"[{hidden}, n]"
      )
  for name in source.shapes:
    if name.startswith("task_specific/"):
      tensors[name] = source.read(name)
  return tensors


def export_hf(checkpoint, output_dir, hparams=None, vocab_file=None, task=None):
  """Writes the checkpoint's models as transformers directories.

  Returns:
    {subdirectory: architecture}.
  """
  if os.path.exists(output_dir) and os.listdir(output_dir):
    raise FileExistsError(f"--output {output_dir} is not empty")
  source = sources.open_source(checkpoint, "--checkpoint")
  given = shape_and_task_hparams(dict(hparams or {}))
  hparams = model_hparams(checkpoint, given)
  task_hparams = dict(model_record.recorded_task_hparams(checkpoint))
  task_hparams.update({k: hparams.pop(k) for k in TASK_HPARAMS if k in hparams})
  vocab_file = vocab_file or hparams.pop("vocab_file", None)
  positions = hparams.get("model_hparam_overrides", {}).get(
    "max_position_embeddings", 512
  )
  recorded_length = "max_seq_length" in hparams
  hparams.setdefault("max_seq_length", min(128, positions))
  config = configure_pretraining.PretrainingConfig("export", "", **hparams)
  model_record.check(checkpoint, config, "--checkpoint")
  disc_config = model_sizes.get_bert_config(config)
  shapes = (
    disc_config,
    model_sizes.get_generator_config(config, disc_config),
    config.embedding_size or disc_config.hidden_size,
  )
  specs = heads_to_export(
    source.shapes,
    task_head_specs(checkpoint, source.shapes, task_hparams),
    task,
  )
  tensors = load_tensors(source, config)
  return hf_export.export_models(
    tensors,
    output_dir,
    shapes,
    specs,
    vocab_file,
    config.do_lower_case,
    config.max_seq_length if recorded_length else None,
  )


def convert(
  checkpoint, output, fmt="tf1", hparams=None, vocab_file=None, task=None
):
  """Runs one conversion; returns a line saying what was written."""
  if fmt == "tf1":
    count = writers.write_tf1_checkpoint(checkpoint, output)
    record_conversion(checkpoint, output, dict(hparams or {}))
    return f"Wrote {count} tensors to {output} (official TF1 layout)"
  if fmt == "tf2":
    count = writers.write_tf2_checkpoint(checkpoint, output)
    record_conversion(checkpoint, output, dict(hparams or {}))
    return f"Wrote {count} variables to {output} (our TF2 checkpoint)"
  written = export_hf(checkpoint, output, hparams, vocab_file, task)
  return "Wrote " + ", ".join(
    f"{os.path.join(output, d)} ({a})" for d, a in written.items()
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--checkpoint": "Ours, official TF1 or a transformers directory.",
      "--output": "TF1/TF2: output prefix (out/model.ckpt-1000); hf: a "
      "new directory.",
    },
  )
  parser.add_argument("--format", choices=FORMATS, default="tf1")
  cli.add_hparams_flag(parser, "Pretraining hparams of the model's shape")
  parser.add_argument("--vocab-file", default=None)
  parser.add_argument(
    "--task", default=None, help="hf: export only this task's head."
  )
  args = parser.parse_args(argv)
  line = convert(
    args.checkpoint,
    args.output,
    args.format,
    cli.merged_hparams(args),
    args.vocab_file,
    args.task,
  )
  logs.log(line)
  return line


if __name__ == "__main__":
  cli.run(main)
