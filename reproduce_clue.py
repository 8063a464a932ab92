"""Reproduces CLUE's ELECTRA-tiny recipe end to end and reports it.

Usage:
  python reproduce_clue.py --corpus-dir C --clue-dir T --work-dir W \
      --vocab-file bert-base-chinese-vocab.txt --budget smoke|cpu|full \
      [--tasks afqmc,tnews] [--hparams '{...}'] [--finetune-hparams '{...}']
C holds raw text files; T holds CLUE's <task>/{train,dev}.json. Stages:
TFRecords, pretraining (configs/electra_tiny_zh.json with the budget's
overrides), its learning curve, fine-tuning of each task from the
pretrained checkpoint and from random initialisation, then
W/report/report.md, report.json and PNG plots. Run the same command again
to resume: finished stages are skipped.
"""

import argparse
import os
import shlex
import sys

from recipes import budgets
from recipes import clue
from util import cli
from util import hparams as hparams_lib
from util import logs


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--corpus-dir": "Raw text for pretraining (see --corpus-from-task).",
      "--clue-dir": "CLUE task splits: <task>/{train,dev}.json.",
      "--work-dir": "Where every stage writes (resumable).",
      "--vocab-file": "WordPiece vocabulary (CLUE used bert-base-chinese's).",
    },
  )
  parser.add_argument(
    "--budget", default="cpu", choices=sorted(budgets.BUDGETS)
  )
  parser.add_argument("--tasks", default=",".join(budgets.CLUE_TASKS))
  parser.add_argument(
    "--corpus-from-task",
    default=None,
    help="Domain-adaptive pretraining: pretrain on this task's training "
    "texts (labels unused) instead of --corpus-dir's files.",
  )
  cli.add_hparams_flag(parser, "Pretraining hparams on top of the budget")
  parser.add_argument("--finetune-hparams", action="append", default=None)
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  corpus_dir = args.corpus_dir
  if args.corpus_from_task:
    corpus_dir = clue.task_corpus(
      args.clue_dir,
      args.corpus_from_task,
      os.path.join(args.work_dir, "task_corpus"),
    )
  options = clue.RecipeOptions(
    corpus_dir=corpus_dir,
    clue_dir=args.clue_dir,
    work_dir=args.work_dir,
    vocab_file=args.vocab_file,
    budget=args.budget,
    tasks=tuple(t for t in args.tasks.split(",") if t),
    hparams=cli.merged_hparams(args),
    finetune_hparams=hparams_lib.merge_hparams(args.finetune_hparams or []),
    command="python reproduce_clue.py " + shlex.join(argv or sys.argv[1:]),
  )
  path = clue.run_recipe(options)
  logs.log(f"Wrote {path}")
  return path


if __name__ == "__main__":
  cli.run(main)
