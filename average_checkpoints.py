"""Averages the weights of several checkpoints of one model.

Usage:
  python average_checkpoints.py \
      --checkpoints data/models/m/finetuning_models/tnews_model_1 \
                    data/models/m/finetuning_models/tnews_model_2 \
                    data/models/m/finetuning_models/tnews_model_3 \
      --output data/models/tnews_averaged

The checkpoints (ours, official TF1 or transformers directories) must hold
the same tensors with the same shapes and, where they have one, the same
vocab.txt. OUT gets our checkpoint of the element-wise mean, the first
checkpoint's records (model.json, tasks.json, vocab.txt) and
averaging.json naming the sources; it is written whole or not at all,
and loads wherever a checkpoint does. The optimizer state is not carried.
"""

import argparse
import json
import os

import convert_checkpoint
from interop import averaging
from interop import model_record
from interop import sources
from interop import writers
from util import cli
from util import logs


def vocabulary_text(paths):
  """The vocab.txt the checkpoints share (None when none has one); an
  error naming two whose vocabularies differ."""
  found = {}
  for path in paths:
    vocab = os.path.join(model_record.directory_of(path) or ".", "vocab.txt")
    if os.path.exists(vocab):
      with open(vocab, encoding="utf-8") as f:
        found[path] = f.read()
  texts = list(found.values())
  for path, text in found.items():
    if text != texts[0]:
      raise ValueError(
        f"--checkpoints: {path} and {next(iter(found))} have different "
        f"vocab.txt files: average checkpoints of one model"
      )
  return texts[0] if texts else None


def average(paths, output):
  """Writes the mean of the checkpoints at ``paths``; returns the number
  of tensors averaged."""
  if len(paths) < 2:
    raise ValueError("--checkpoints: name two or more checkpoints to average")
  writers.check_new_directory(output)
  vocab = vocabulary_text(paths)
  opened = [sources.open_source(path, "--checkpoints") for path in paths]
  tensors = averaging.mean_tensors(
    [{name: s.read(name) for name in s.shapes} for s in opened], paths
  )
  files = {"averaging.json": json.dumps({"sources": paths}, indent=2) + "\n"}
  if vocab is not None:
    files["vocab.txt"] = vocab

  def record(prefix):
    convert_checkpoint.record_conversion(
      paths[0], prefix, {}, "average_checkpoints.py", shown_as=output
    )

  writers.write_new_directory(output, tensors, files, record)
  return len(tensors)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--checkpoints", nargs="+", required=True)
  parser.add_argument("--output", required=True)
  args = parser.parse_args(argv)
  count = average(args.checkpoints, args.output)
  logs.log(
    f"Wrote {args.output}: the mean of {count} tensors over "
    f"{len(args.checkpoints)} checkpoints"
  )
  return count


if __name__ == "__main__":
  cli.run(main)
