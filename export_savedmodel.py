"""Exports a pretrained or fine-tuned ELECTRA checkpoint as a SavedModel.

Usage:
  python export_savedmodel.py --checkpoint data/models/tiny_zh \
      --hparams configs/electra_tiny_zh.json --output exported/tiny_zh \
      [--vocab-file data/vocab.txt --max-seq-length 128]
--checkpoint may be ours, an official TF1 one or a transformers ELECTRA
directory. --hparams are the pretraining hyperparameters that describe the
model's shape (a transformers directory's config.json gives them when they
are not passed). A fine-tuned checkpoint's heads are described by the
tasks.json fine-tuning writes beside it: classifiers and regressors get
``classify`` (ids in; a regressor also returns ``score`` on the label's own
scale), tagging heads ``tag`` (ids and mask in; the task's segment ids are
set inside). With --vocab-file, classifiers also get ``classify_text``,
which takes raw text and tokenizes inside the graph. serving.json beside
the SavedModel names every signature's inputs and outputs and each task's
label list (output i means label i).
"""

import argparse
import os

import configure_pretraining
import convert_checkpoint
from finetune import heads as task_heads
from interop import export
from interop import loading
from interop import sources
from model import fast_tokenization
from model import modeling
from pretrain import pretraining_model
from util import cli
from util import logs


def build_head(task, spec, shapes):
  """The dense head of a task as the trainer built it (a token head for
  tagging, a [CLS] head otherwise)."""
  hidden, outputs = shapes[f"task_specific/{task}/dense/kernel"]
  make = (
    task_heads.token_head
    if spec.kind == "tagging"
    else task_heads.classification_head
  )
  return make(f"task_specific/{task}", hidden, outputs)


def build_module(hparams, checkpoint, vocab_file=None, max_seq_length=128):
  """The model of ``hparams`` with the heads ``checkpoint`` has, loaded.

  Returns:
    (an `export.ExportModule`, the checkpoint `LoadReport`).
  """
  source = sources.open_source(checkpoint, "--checkpoint")
  hparams = dict(hparams)
  task_hparams = {
    k: hparams.pop(k) for k in convert_checkpoint.TASK_HPARAMS if k in hparams
  }
  hparams = dict(
    sources.hparams_from_checkpoint(checkpoint, hparams), **hparams
  )
  positions = hparams.get("model_hparam_overrides", {}).get(
    "max_position_embeddings", 512
  )
  hparams.setdefault("max_seq_length", min(max_seq_length, positions))
  config = configure_pretraining.PretrainingConfig("export", "", **hparams)
  model = pretraining_model.PretrainingModel(config)
  specs = convert_checkpoint.task_head_specs(
    checkpoint, source.shapes, task_hparams
  )
  if specs and max_seq_length > positions:
    raise ValueError(
      f"--max-seq-length {max_seq_length} is above the model's "
      f"max_position_embeddings ({positions})"
    )
  heads = {
    task: (build_head(task, spec, source.shapes), spec)
    for task, spec in specs.items()
  }
  variables = dict(model.official_variables())
  for head, _ in heads.values():
    variables.update(modeling.variables_by_name(head))
  report = loading.init_from_checkpoint(variables, source)
  vocab_file = vocab_file or hparams.get("vocab_file")
  tokenizer = (
    fast_tokenization.FastTokenizer(vocab_file, config.do_lower_case)
    if vocab_file and heads
    else None
  )
  module = export.ExportModule(
    model,
    heads,
    tokenizer,
    max_seq_length,
    with_generator="generator_predictions/output_bias" in source.shapes,
    with_discriminator="discriminator_predictions/dense/kernel"
    in source.shapes,
  )
  return module, report


def export_savedmodel(
  hparams, checkpoint, output_dir, vocab_file=None, max_seq_length=128
):
  """Builds, loads and writes the SavedModel; returns (signatures, report)."""
  if os.path.exists(output_dir) and os.listdir(output_dir):
    raise FileExistsError(f"--output {output_dir} is not empty")
  module, report = build_module(hparams, checkpoint, vocab_file, max_seq_length)
  return export.export(module, output_dir), report


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoint", required=True)
  cli.add_hparams_flag(
    parser, "Pretraining hparams that describe the model's shape."
  )
  parser.add_argument("--output", required=True)
  parser.add_argument("--vocab-file", default=None)
  parser.add_argument("--max-seq-length", type=int, default=128)
  args = parser.parse_args(argv)
  names, report = export_savedmodel(
    cli.merged_hparams(args),
    args.checkpoint,
    args.output,
    args.vocab_file,
    args.max_seq_length,
  )
  logs.log(report.summary())
  logs.log(f"Wrote a SavedModel with signatures {names} to {args.output}")
  return names


if __name__ == "__main__":
  cli.run(main)
