"""Exports a pretrained or fine-tuned ELECTRA checkpoint as a SavedModel.

Usage:
  python export_savedmodel.py --checkpoint data/models/tiny_zh \
      --hparams configs/electra_tiny_zh.json --output exported/tiny_zh \
      [--vocab-file data/vocab.txt --max-seq-length 128 --task tnews] \
      [--mixed-precision mixed_bfloat16]
--checkpoint may be ours, an official TF1 one or a transformers ELECTRA
directory. The model's shape, casing and vocabulary come from what the
checkpoint records (the model.json and vocab.txt our trainers and
converters write beside it, a transformers directory's config.json);
--hparams (pretraining or fine-tuning hparams) are needed only for
checkpoints that record nothing, such as official TF1 ones. A fine-tuned
checkpoint exports one task (--task, when it holds several), described by
the tasks.json fine-tuning writes beside it. With a vocabulary (--vocab-file,
the hparams' vocab_file, or the vocab.txt beside the checkpoint) its
``serving_default``
signature takes raw UTF-8 strings, tokenizes them in the graph as training
did and returns decoded predictions (labels, scores, entities); the
ids-in signatures (``classify``, ``tag``) stay for callers who tokenize
themselves. serving.json beside the SavedModel names every signature's
inputs and outputs and the task's label list (output i means label i).
"""

import argparse
import os

import tensorflow as tf

import configure_pretraining
import convert_checkpoint
from finetune import head_specs
from finetune import heads as task_heads
from finetune import qa_head
from interop import choice_serving
from interop import export
from interop import loading
from interop import model_record
from interop import qa_serving
from interop import sources
from interop import text_serving
from model import fast_tokenization
from model import modeling
from pretrain import pretraining_model
from util import cli
from util import logs

# model parts a checkpoint may lack (a fine-tuned one has neither)
NOT_SERVED_UNLESS_PRESENT = ("generator", "discriminator_predictions/")
# the serving functions of each kind of head (others: classifiers)
SERVING = {
  "tagging": text_serving.TaggerServing,
  "qa": qa_serving.QAServing,
  "multiple_choice": choice_serving.MultipleChoiceServing,
}


def build_head(task, spec, shapes):
  """The head of a task as the trainer built it: the QA head, a token head
  for tagging, a [CLS] head otherwise."""
  scope = f"task_specific/{task}"
  hidden, outputs = shapes[f"{scope}/dense/kernel"]
  if spec.kind == "qa":
    settings = spec.qa
    return qa_head.QAHead(
      scope,
      hidden,
      settings["joint_prediction"],
      settings["answerable_classifier"],
      settings["answerable_uses_start_logits"],
    )
  make = (
    task_heads.token_head
    if spec.kind == "tagging"
    else task_heads.classification_head
  )
  return make(scope, hidden, outputs)


def task_specs(checkpoint, shapes, task_hparams):
  """{task: `HeadSpec`} of every task head in the checkpoint: the dense
  ones, and QA heads (from tasks.json, else the task registry)."""
  specs = convert_checkpoint.task_head_specs(checkpoint, shapes, task_hparams)
  saved = head_specs.read_descriptions(checkpoint) or {}
  present = {n.split("/")[1] for n in shapes if n.startswith("task_specific/")}
  for task in sorted(present - set(specs)):
    spec = saved.get(task) or convert_checkpoint.registry_spec(
      task, task_hparams
    )
    if spec is None or spec.kind != "qa":
      raise ValueError(
        f"task_specific/{task}: not a head this exporter knows (classifier, "
        f"regressor, tagger or span-extraction QA)"
      )
    specs[task] = spec
  return specs


def model_config(hparams, checkpoint, max_seq_length):
  """The `PretrainingConfig` of the model's shape, and the fine-tuning
  hparams (custom_tasks, tagging_scheme) that describe its heads.

  What the checkpoint records (``model.json``, a transformers config.json)
  completes ``hparams``; a shape in ``hparams`` that contradicts it is an
  error naming both.
  """
  hparams = convert_checkpoint.shape_and_task_hparams(hparams)
  task_hparams = dict(model_record.recorded_task_hparams(checkpoint))
  task_hparams.update(
    {k: hparams.pop(k) for k in convert_checkpoint.TASK_HPARAMS if k in hparams}
  )
  hparams = dict(
    sources.hparams_from_checkpoint(checkpoint, hparams), **hparams
  )
  positions = hparams.get("model_hparam_overrides", {}).get(
    "max_position_embeddings", 512
  )
  if max_seq_length is not None and max_seq_length > positions:
    raise ValueError(
      f"--max-seq-length {max_seq_length} is above the model's "
      f"max_position_embeddings ({positions})"
    )
  if max_seq_length is not None:
    hparams["max_seq_length"] = max_seq_length
  hparams.setdefault("max_seq_length", min(128, positions))
  config = configure_pretraining.PretrainingConfig("export", "", **hparams)
  model_record.check(checkpoint, config, "--checkpoint")
  return config, task_hparams


def choose_task(specs, task, checkpoint):
  """The one task to serve: ``task``, or the checkpoint's only head."""
  present = sorted(specs)
  if task is None:
    if len(present) > 1:
      raise ValueError(
        f"{checkpoint} holds the heads of several tasks ({', '.join(present)})"
        f"; pass --task with one of them"
      )
    return present[0] if present else None
  if task not in specs:
    raise ValueError(
      f"--task {task!r} is not a task head of {checkpoint}; it holds "
      f"{', '.join(present) or 'none'}"
    )
  return task


def build_module(
  hparams, checkpoint, vocab_file=None, max_seq_length=None, task=None,
  compiled_lengths=(),
):  # fmt: skip
  """The model of ``hparams`` with the head of ``task``, loaded; single
  requests of up to ``compiled_lengths`` tokens through compiled encoders.

  Returns:
    (an `export.ExportModule`, the checkpoint `LoadReport`).
  """
  source = sources.open_source(checkpoint, "--checkpoint")
  config, task_hparams = model_config(hparams, checkpoint, max_seq_length)
  model = pretraining_model.PretrainingModel(config)
  specs = task_specs(checkpoint, source.shapes, task_hparams)
  task = choose_task(specs, task, checkpoint)
  # the generator and discriminator head are exported only when the
  # checkpoint has them: absent ones are not "left at initialisation"
  variables = {
    name: variable
    for name, variable in model.official_variables().items()
    if name in source.shapes or not name.startswith(NOT_SERVED_UNLESS_PRESENT)
  }
  serving = None
  if task is not None:
    spec = specs[task]
    head = build_head(task, spec, source.shapes)
    variables.update(modeling.variables_by_name(head))
    vocab_file = (
      vocab_file
      or hparams.get("vocab_file")
      or sources.hparams_from_checkpoint(checkpoint, {}).get("vocab_file")
    )
    tokenizer = (
      fast_tokenization.FastTokenizer(vocab_file, config.do_lower_case)
      if vocab_file
      else None
    )
    if tokenizer is not None and len(tokenizer.vocab) > config.vocab_size:
      raise ValueError(
        f"--vocab-file {vocab_file} has {len(tokenizer.vocab)} tokens but "
        f"the model's vocab_size is {config.vocab_size}: not the vocabulary "
        f"it was trained with (a pruned checkpoint's is the vocab.txt "
        f"beside it)"
      )
    length = max_seq_length or spec.max_seq_length or config.max_seq_length
    # the heads run in float32 under mixed precision, as in the trainer
    encode = lambda *ids: tf.cast(model.electra(*ids, False), tf.float32)
    kind = SERVING.get(spec.kind, text_serving.ClassifierServing)
    serving = kind(encode, head, spec, tokenizer, length, compiled_lengths)
  report = loading.init_from_checkpoint(variables, source)
  module = export.ExportModule(
    model,
    task,
    serving,
    with_generator="generator_predictions/output_bias" in source.shapes,
    with_discriminator="discriminator_predictions/dense/kernel"
    in source.shapes,
  )
  return module, report


def export_savedmodel(
  hparams, checkpoint, output_dir, vocab_file=None, max_seq_length=None,
  task=None, compiled_lengths=(),
):  # fmt: skip
  """Builds, loads and writes the SavedModel; returns (signatures, report)."""
  if os.path.exists(output_dir) and os.listdir(output_dir):
    raise FileExistsError(f"--output {output_dir} is not empty")
  module, report = build_module(
    hparams, checkpoint, vocab_file, max_seq_length, task, compiled_lengths
  )
  return export.export(module, output_dir), report


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", required=True)
  cli.add_hparams_flag(
    parser, "Pretraining hparams that describe the model's shape."
  )
  parser.add_argument("--output", required=True)
  parser.add_argument("--vocab-file", default=None)
  parser.add_argument(
    "--max-seq-length",
    type=int,
    default=None,
    help="The packed length of text inputs (default: the task's own, else "
    "128).",
  )
  parser.add_argument(
    "--task",
    default=None,
    help="The fine-tuned task to serve (needed when the checkpoint holds "
    "several task heads).",
  )
  parser.add_argument(
    "--mixed-precision",
    default=None,
    choices=["mixed_bfloat16"],
    help="Compute the matmuls in bfloat16 (weights stay float32): faster "
    "on CPUs with AMX (docs/speed.md); see benchmarks/export_agreement.py "
    "for how its outputs compare.",
  )
  parser.add_argument(
    "--compiled-lengths",
    type=int,
    nargs="+",
    default=[],
    help="Run single requests of up to these many tokens (padded to the "
    "shortest that holds them) through XLA-compiled encoders, e.g. 16 32 "
    "64: faster at batch 1 (docs/speed.md). Each length compiles on its "
    "first request; TF Serving needs --xla_cpu_compilation_enabled=true.",
  )
  args = parser.parse_args(argv)
  hparams = cli.merged_hparams(args)
  if args.mixed_precision:
    hparams["mixed_precision"] = args.mixed_precision
  names, report = export_savedmodel(
    hparams,
    args.checkpoint,
    args.output,
    args.vocab_file,
    args.max_seq_length,
    args.task,
    args.compiled_lengths,
  )
  logs.log(report.summary())
  logs.log(f"Wrote a SavedModel with signatures {names} to {args.output}")
  return names


if __name__ == "__main__":
  cli.run(main)
