"""CLUE's ELECTRA-tiny recipe as resumable stages (``reproduce_clue.py``).

Raw text -> TFRecords -> pretraining -> its learning curve -> fine-tuning
of each CLUE task from the pretrained checkpoint and, as the control, from
random initialisation -> the report. Each stage leaves a record in
``<work-dir>/stages/``; a rerun skips recorded stages and resumes the one
that was interrupted (pretraining from its newest checkpoint, fine-tuning
from each trial's newest checkpoint).
"""

import dataclasses
import os
import shutil
import time
from typing import Optional

import tensorflow as tf

import configure_finetuning
import configure_pretraining
from finetune import driver
from finetune import task_builder
from pretrain import dataset_builder
from pretrain import run as pretrain_run
from recipes import budgets
from recipes import report
from util import files as files_lib
from util import logs

CONFIGS = os.path.join(configure_pretraining.PROJECT_DIR, "configs")
STARTS = ("pretrained", "random")


@dataclasses.dataclass
class RecipeOptions:
  corpus_dir: str
  clue_dir: str
  work_dir: str
  vocab_file: str
  budget: str = "cpu"
  tasks: tuple = budgets.CLUE_TASKS
  hparams: dict = dataclasses.field(default_factory=dict)
  finetune_hparams: dict = dataclasses.field(default_factory=dict)
  command: Optional[str] = None


class Stages:
  """Stage records: {"seconds", "result"} JSON files, written at the end."""

  def __init__(self, work_dir):
    self.directory = os.path.join(work_dir, "stages")

  def path(self, name):
    return os.path.join(self.directory, name + ".json")

  def run(self, name, work):
    if os.path.exists(self.path(name)):
      logs.log(f"Stage {name}: done earlier, skipped")
      return files_lib.load_json(self.path(name))
    logs.heading(f"Stage {name}")
    start = time.time()
    result = work()
    record = {"seconds": round(time.time() - start, 1), "result": result}
    files_lib.atomic_write_json(record, self.path(name))
    return record


def check_inputs(options):
  """Clear errors for a missing corpus, vocabulary, task or split."""
  if options.budget not in budgets.BUDGETS:
    raise ValueError(
      f"--budget {options.budget!r} is not one of {sorted(budgets.BUDGETS)}"
    )
  for flag, path in (
    ("--corpus-dir", options.corpus_dir),
    ("--clue-dir", options.clue_dir),
  ):
    if not os.path.isdir(path):
      raise FileNotFoundError(f"{flag} {path} is not a directory")
  if not os.path.isfile(options.vocab_file):
    raise FileNotFoundError(f"--vocab-file {options.vocab_file} does not exist")
  for task in options.tasks:
    for split in ("train", "dev"):
      for path in task_files(options.clue_dir, task, split):
        if not os.path.isfile(path):
          raise FileNotFoundError(
            f"--clue-dir: {path} does not exist (task {task}, split {split})"
          )


def task_files(clue_dir, task, split):
  """The files a task reads for a split (`Task.data_files`)."""
  config = configure_finetuning.FinetuningConfig(
    "check", "", task_names=[task], raw_data_dir=clue_dir
  )
  try:
    return task_builder.get_task(config, task).data_files(split)
  except FileNotFoundError as error:  # none of a task's candidate files
    raise FileNotFoundError(f"--clue-dir: {error}") from None


def pretraining_config(options):
  hparams = files_lib.load_json(os.path.join(CONFIGS, "electra_tiny_zh.json"))
  hparams.update(budgets.BUDGETS[options.budget].pretrain)
  hparams.update(do_eval=True, keep_checkpoint_max=0, seed=0)
  hparams.update(options.hparams)
  data_dir = os.path.join(options.work_dir, "pretrain_data")
  config = configure_pretraining.PretrainingConfig(
    "electra_tiny", data_dir, **hparams
  )
  return config, hparams


def build_tfrecords(options, config):
  os.makedirs(os.path.dirname(config.vocab_file), exist_ok=True)
  shutil.copyfile(options.vocab_file, config.vocab_file)
  output = os.path.dirname(config.pretrain_tfrecords)
  if os.path.isdir(output):  # an interrupted build: set aside, rebuild
    os.rename(output, f"{output}.interrupted-{int(time.time())}")
  manifest = dataset_builder.build(
    dataset_builder.BuildOptions(
      corpus_dir=options.corpus_dir,
      vocab_file=config.vocab_file,
      output_dir=output,
      max_seq_length=config.max_seq_length,
    )
  )
  return {k: manifest[k] for k in ("examples", "tokens", "files")}


def learning_curve(config):
  state = tf.train.get_checkpoint_state(config.model_dir)
  prefixes = list(state.all_model_checkpoint_paths) if state else []
  return pretrain_run.evaluate_checkpoints(config, prefixes)


def finetuning_config(options, start, task, pretrained_dir):
  hparams = files_lib.load_json(
    os.path.join(CONFIGS, "finetune_clue_tiny.json")
  )
  hparams.update(budgets.BUDGETS[options.budget].finetune)
  hparams.update(options.finetune_hparams)
  hparams.update(
    task_names=[task],
    raw_data_dir=options.clue_dir,
    vocab_file=options.vocab_file,
    init_checkpoint=pretrained_dir if start == "pretrained" else None,
  )
  root = os.path.join(options.work_dir, "finetune")
  return configure_finetuning.FinetuningConfig(start, root, **hparams), hparams


def finetune(config):
  # an interrupted run resumes: finished trials are reused, the interrupted
  # one continues from its newest checkpoint
  driver.run_finetuning(config)
  results = files_lib.load_json(config.results_json)
  task = task_builder.get_task(config, config.task_names[0])
  results["examples"] = {
    split: len(task.split_examples(split)) for split in ("train", "dev")
  }
  return results


def task_corpus(clue_dir, task, output_dir):
  """Domain-adaptive pretraining text: a task's training texts without
  their labels, one document per example (text_a and text_b as its
  sentences). Returns the corpus directory."""
  config = configure_finetuning.FinetuningConfig(
    "corpus", "", task_names=[task], raw_data_dir=clue_dir
  )
  examples = task_builder.get_task(config, task).get_examples("train")
  os.makedirs(output_dir, exist_ok=True)
  lines = []
  for example in examples:
    if hasattr(example, "context"):  # a multiple-choice question
      lines += [*example.context, example.question]
    else:
      lines += [example.text_a] + ([example.text_b] if example.text_b else [])
    lines.append("")
  files_lib.atomic_write_text(
    "\n".join(lines), os.path.join(output_dir, f"{task}_train_text.txt")
  )
  return output_dir


def run_recipe(options):
  """Runs (or resumes) every stage and writes the report; returns its path."""
  check_inputs(options)
  stages = Stages(options.work_dir)
  config, pretrain_hparams = pretraining_config(options)
  records = {
    "tfrecords": stages.run(
      "tfrecords", lambda: build_tfrecords(options, config)
    ),
    "pretraining": stages.run(
      "pretraining", lambda: pretrain_run.train_or_eval(config)
    ),
    "curve": stages.run("curve", lambda: learning_curve(config)),
  }
  finetune_hparams = {}
  for start in STARTS:
    for task in options.tasks:
      ft_config, finetune_hparams = finetuning_config(
        options, start, task, config.model_dir
      )
      records[f"{start}/{task}"] = stages.run(
        f"finetune_{start}_{task}", lambda c=ft_config: finetune(c)
      )
  hparams = {"pretraining": pretrain_hparams, "finetuning": finetune_hparams}
  published = files_lib.load_json(os.path.join(CONFIGS, "clue_published.json"))
  return report.write_report(options, records, hparams, published)
