"""Does a pretrained checkpoint fine-tune better than random initialisation?

Fine-tunes one task from each ``--start`` (a checkpoint, ours or an official
TF1 one, or ``random``) with the same recipe and trials (trial t uses seed
seed + t), each start in a process of its own, and prints the dev metrics'
mean and spread per start as a markdown table.

  python benchmarks/pretraining_payoff.py --data-dir DIR --task tnews \
    --hparams configs/finetune_clue_tiny.json --trials 2 \
    --start random --start ours=models/x/model.ckpt-1000 --out OUT

``--data-dir`` holds ``vocab.txt`` and ``finetuning_data/<task>/``.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from util import hparams as hparams_lib  # noqa: E402


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data-dir", required=True)
  parser.add_argument("--task", required=True)
  parser.add_argument("--hparams", action="append", required=True)
  parser.add_argument(
    "--start",
    action="append",
    required=True,
    help="random, or name=checkpoint (repeatable)",
  )
  parser.add_argument("--trials", type=int, default=2)
  parser.add_argument("--out", required=True, help="results directory")
  return parser.parse_args(argv)


def parse_start(spec):
  """(name, checkpoint or None) of one --start."""
  if spec == "random":
    return "random", None
  name, sep, path = spec.partition("=")
  if not sep or not path:
    raise ValueError(f"--start {spec!r}: expected 'random' or name=checkpoint")
  return name, path


def finetune(name, checkpoint, recipe, args):
  """Runs run_finetuning.py for one start; returns its results summary."""
  results = os.path.join(args.out, name, "results.json")
  if not os.path.exists(results):
    hparams = dict(
      recipe,
      task_names=[args.task],
      init_checkpoint=checkpoint,
      num_trials=args.trials,
      model_dir=os.path.join(args.out, name, "model"),
      results_txt=os.path.join(args.out, name, "results.txt"),
      results_json=results,
      preprocessed_data_dir=os.path.join(args.out, "preprocessed"),
    )
    command = [
      sys.executable,
      os.path.join(os.path.dirname(HERE), "run_finetuning.py"),
      f"--data-dir={args.data_dir}",
      f"--model-name={name}",
      f"--hparams={json.dumps(hparams)}",
    ]
    subprocess.run(command, check=True)
  with open(results) as f:
    return json.load(f)


def markdown_table(summaries, task, trials):
  metrics = list(next(iter(summaries.values()))["summary"][task])
  lines = [
    f"| start ({task} dev, mean ± std of {trials} trials) | "
    + " | ".join(metrics)
    + " |",
    "| --- |" + " --- |" * len(metrics),
  ]
  for name, summary in summaries.items():
    cells = [
      f"{summary['summary'][task][m]['mean']:.2f} ± "
      f"{summary['summary'][task][m]['std']:.2f}"
      for m in metrics
    ]
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def check_starts(args):
  """[(name, checkpoint)], each checkpoint found, before any work starts."""
  from interop import checkpoints

  starts = [parse_start(spec) for spec in args.start]
  for name, checkpoint in starts:
    if checkpoint is not None:
      try:
        checkpoints.resolve_checkpoint_path(checkpoint)
      except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"--start {name}={checkpoint}: {error}") from error
  task_dir = os.path.join(args.data_dir, "finetuning_data", args.task)
  if not os.path.isdir(task_dir):
    raise SystemExit(f"--data-dir {args.data_dir} has no {task_dir}")
  return starts


def main(argv=None):
  args = parse_args(argv)
  recipe = hparams_lib.merge_hparams(args.hparams)
  summaries = {}
  for name, checkpoint in check_starts(args):
    summaries[name] = finetune(name, checkpoint, recipe, args)
  table = markdown_table(summaries, args.task, args.trials)
  with open(os.path.join(args.out, "results.md"), "w") as f:
    f.write(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
