"""Trains the official TF1 ELECTRA code and ours side by side and compares.

For each seed: one random initial model (written as a TF1 checkpoint), then
the official code (``tests/official_tf1/train_official.py``, in its own
process) and our ``train_or_eval`` under each ``--variant`` train from it on
the same TFRecords with the same hparams. Every trained checkpoint is then
evaluated by one evaluator (ours) on the same held-out batches with the same
masks, and the table gives each metric's mean and seed-to-seed spread.

  python benchmarks/compare_official.py --official-dir ~/electra \
    --data-dir DIR --train-tfrecords 'DIR/train/*' \
    --eval-tfrecords 'DIR/heldout/*' --seeds 1 2 3 \
    --hparams benchmarks/configs/compare_small.json \
    --variant ours='{}' --variant averaged='{"average_duplicate_samples": true}'

``--data-dir`` must hold ``vocab.txt``. The official code is not part of
this project: point ``--official-dir`` at a checkout of
google-research/electra. Writes ``<out>/results.json`` and a markdown table.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# the official code's TF1 stand-ins and driver live with the tests: TF1
# compatibility code stays out of the product
OFFICIAL_TRAINER = os.path.join(
  os.path.dirname(HERE), "tests", "official_tf1", "train_official.py"
)

import numpy as np  # noqa: E402

from util import hparams as hparams_lib  # noqa: E402

METRICS = (
  "masked_lm_accuracy",
  "masked_lm_loss",
  "sampled_masked_lm_accuracy",
  "disc_loss",
  "disc_auc",
  "disc_accuracy",
  "disc_precision",
  "disc_recall",
  "loss",
)
EVAL_SEED = 20261126  # the same eval masks for every checkpoint


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--official-dir", help="google-research/electra tree")
  parser.add_argument("--data-dir", required=True, help="holds vocab.txt")
  parser.add_argument("--train-tfrecords", required=True)
  parser.add_argument("--eval-tfrecords", required=True)
  parser.add_argument("--hparams", action="append", required=True)
  parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
  parser.add_argument(
    "--variant",
    action="append",
    default=[],
    help="name=JSON: our run with these extra hparams (repeatable)",
  )
  parser.add_argument("--num-eval-steps", type=int, default=40)
  parser.add_argument("--out", required=True, help="work/results directory")
  return parser.parse_args(argv)


def parse_variants(specs):
  variants = {}
  for spec in specs or ["ours={}"]:
    name, _, extra = spec.partition("=")
    variants[name] = json.loads(extra or "{}")
  return variants


def make_config(base, name, args, **extra):
  """Our `PretrainingConfig` for run ``name`` under ``args.out``."""
  import configure_pretraining

  hparams = dict(base, **extra)
  hparams.setdefault("vocab_file", os.path.join(args.data_dir, "vocab.txt"))
  return configure_pretraining.PretrainingConfig(name, args.out, **hparams)


def write_initial_checkpoint(base, seed, args):
  """A random model from ``seed``, saved as a TF1 (official-name) checkpoint."""
  import tensorflow as tf

  from interop import checkpoints
  from interop import writers
  from pretrain import job
  from pretrain import pretraining_model

  prefix = os.path.join(args.out, f"seed{seed}", "init", "model.ckpt-0")
  if os.path.exists(prefix + ".index"):
    return prefix
  config = make_config(base, f"seed{seed}-init", args)
  tf.random.set_seed(seed)
  model = pretraining_model.PretrainingModel(
    config, job.load_special_ids(config)
  )
  ours = checkpoints.make_checkpoint(model.official_variables())
  saved = ours.write(os.path.join(config.model_dir, "init"))
  writers.write_tf1_checkpoint(saved, prefix)
  return prefix


def run_official_code(hparams, init, out, seed, args, *flags):
  """Runs tests/official_tf1/train_official.py in its own process."""
  command = [
    sys.executable,
    OFFICIAL_TRAINER,
    f"--official-dir={args.official_dir}",
    f"--data-dir={args.data_dir}",
    f"--hparams={json.dumps(hparams)}",
    f"--init-checkpoint={init}",
    f"--output={out}",
    f"--seed={seed}",
    *flags,
  ]
  subprocess.run(command, check=True)


def train_official(base, seed, init, args):
  """Trains the official code; returns its checkpoint directory."""
  out = os.path.join(args.out, f"seed{seed}", "official")
  if not os.path.exists(os.path.join(out, "checkpoint")):
    hparams = dict(base, pretrain_tfrecords=args.train_tfrecords)
    run_official_code(hparams, init, out, seed, args)
  return out


def evaluate_with_official_code(base, checkpoint, name, args):
  """The official evaluator (its metric_fn, eval pipeline and masking), run
  in a subprocess on the held-out TFRecords (our checkpoints are rewritten
  in the official TF1 layout first)."""
  from interop import writers

  out = os.path.join(args.out, "official_eval", name)
  tf1_prefix = os.path.join(out, "tf1", "model.ckpt")
  writers.write_tf1_checkpoint(checkpoint, tf1_prefix)
  hparams = dict(base, pretrain_tfrecords=args.eval_tfrecords)
  flags = [f"--eval-steps={args.num_eval_steps}"]
  run_official_code(hparams, tf1_prefix, out, EVAL_SEED, args, *flags)
  with open(os.path.join(out, "official_eval.json")) as f:
    results = json.load(f)
  return {k: results[k] for k in METRICS if k in results}


def run_ours(base, name, args, **overrides):
  """Our ``train_or_eval`` for run ``name``; returns (config, results)."""
  from pretrain import run

  config = make_config(base, name, args, **overrides)
  return config, run.train_or_eval(config)


def train_ours(base, extra, name, seed, init, args):
  """Trains ours from ``init``; returns the model directory."""
  config, _ = run_ours(
    base,
    name,
    args,
    **extra,
    pretrain_tfrecords=args.train_tfrecords,
    init_checkpoint=init,
    seed=seed,
    do_train=True,
    do_eval=False,
    keep_checkpoint_max=1,
    save_checkpoints_steps=base["num_train_steps"],
  )
  return config.model_dir


def evaluate(base, checkpoint, name, args, official_masking):
  """Our evaluator on the held-out batches, the same masks for every run.

  With ``official_masking`` the eval batches are corrupted as the official
  code corrupts them (a position drawn twice gets the average of its two
  sampled ids), which is what the official evaluator reports on.
  """
  _, results = run_ours(
    base,
    f"{name}-eval-{EVAL_MODES[official_masking]}",
    args,
    pretrain_tfrecords=args.eval_tfrecords,
    init_checkpoint=checkpoint,
    seed=EVAL_SEED,
    do_train=False,
    do_eval=True,
    num_eval_steps=args.num_eval_steps,
    average_duplicate_samples=official_masking,
  )
  return {k: float(results[k]) for k in METRICS if k in results}


EVAL_MODES = {False: "clean", True: "official_masking"}
OFFICIAL_EVALUATOR = "official_evaluator"
EVALUATOR_NAMES = {
  "clean": "our evaluator (a position drawn twice holds one sample)",
  "official_masking": "our evaluator with the official masking (a position "
  "drawn twice holds the average of its two sampled ids)",
  OFFICIAL_EVALUATOR: "the official TF1 code (its input pipeline, masking "
  "and metric_fn)",
}


def cached(path, compute):
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  value = compute()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    json.dump(value, f, indent=1)
  return value


def evaluate_all(seed_dir, name, checkpoint, base, args):
  """{eval mode: metrics} of one checkpoint (cached as JSON); ``checkpoint``
  is a function returning its path, called (training it) only when needed.
  Modes: our evaluator on clean and on officially masked batches, and (with
  --official-dir) the official evaluator."""
  run_name = os.path.basename(seed_dir) + "-" + name
  results = {
    mode: cached(
      os.path.join(seed_dir, f"{name}.{mode}.json"),
      lambda official=official: evaluate(
        base, checkpoint(), run_name, args, official
      ),
    )
    for official, mode in EVAL_MODES.items()
  }
  if args.official_dir:
    results[OFFICIAL_EVALUATOR] = cached(
      os.path.join(seed_dir, f"{name}.{OFFICIAL_EVALUATOR}.json"),
      lambda: evaluate_with_official_code(base, checkpoint(), run_name, args),
    )
  return results


def run_seed(base, variants, seed, args):
  """{run name: {eval mode: metrics}} of the official run and each variant."""
  init = write_initial_checkpoint(base, seed, args)
  seed_dir = os.path.join(args.out, f"seed{seed}")
  checkpoints = {}
  if args.official_dir:
    checkpoints["official"] = lambda: train_official(base, seed, init, args)
  for name, extra in variants.items():
    checkpoints[name] = lambda name=name, extra=extra: train_ours(
      base, extra, f"seed{seed}-{name}", seed, init, args
    )
  return {
    name: evaluate_all(seed_dir, name, once(train), base, args)
    for name, train in checkpoints.items()
  }


def once(compute):
  """``compute`` run on the first call only (later calls reuse its value)."""
  memo = []

  def value():
    if not memo:
      memo.append(compute())
    return memo[0]

  return value


def summarize(per_seed, mode):
  """{run: {metric: (mean, sample std)}} over seeds, for one eval mode."""
  runs = per_seed[0].keys()
  summary = {}
  for run_name in runs:
    summary[run_name] = {}
    for metric in METRICS:
      values = [
        r[run_name][mode][metric]
        for r in per_seed
        if metric in r[run_name][mode]
      ]
      if values:
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        summary[run_name][metric] = (float(np.mean(values)), std)
  return summary


def markdown_table(summary, num_seeds, mode):
  runs = list(summary)
  lines = [
    f"Evaluated by: {EVALUATOR_NAMES[mode]}.",
    "",
    f"| metric (mean ± std of {num_seeds} seeds) | " + " | ".join(runs) + " |",
    "| --- |" + " --- |" * len(runs),
  ]
  for metric in METRICS:
    cells = []
    for run_name in runs:
      if metric in summary[run_name]:
        mean, std = summary[run_name][metric]
        cells.append(f"{mean:.4f} ± {std:.4f}")
      else:
        cells.append("")
    lines.append(f"| {metric} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def check_args(args):
  """Names the flag and what was expected before any work starts."""
  official = args.official_dir
  if official and not os.path.isfile(
    os.path.join(official, "run_pretraining.py")
  ):
    raise SystemExit(
      f"--official-dir {official} has no run_pretraining.py: expected a "
      f"checkout of google-research/electra"
    )
  vocab = os.path.join(args.data_dir, "vocab.txt")
  if not os.path.isfile(vocab):
    raise SystemExit(f"--data-dir {args.data_dir} has no vocab.txt")
  for flag in ("train_tfrecords", "eval_tfrecords"):
    pattern = getattr(args, flag)
    if not glob.glob(pattern):
      raise SystemExit(f"--{flag.replace('_', '-')} {pattern} matches no file")


def main(argv=None):
  args = parse_args(argv)
  check_args(args)
  base = hparams_lib.merge_hparams(args.hparams)
  variants = parse_variants(args.variant)
  per_seed = [run_seed(base, variants, seed, args) for seed in args.seeds]
  modes = per_seed[0][next(iter(per_seed[0]))].keys()
  summary = {mode: summarize(per_seed, mode) for mode in modes}
  table = "\n\n".join(
    markdown_table(summary[mode], len(args.seeds), mode) for mode in summary
  )
  with open(os.path.join(args.out, "results.json"), "w") as f:
    json.dump({"per_seed": per_seed, "summary": summary}, f, indent=1)
  with open(os.path.join(args.out, "results.md"), "w") as f:
    f.write(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
