"""`run_finetuning(config)`: trials, dev results and submission files."""

import os
import shutil

import numpy as np

from finetune import preprocessing
from finetune import task_builder
from finetune import trial as trial_lib
from model import tokenizers
from training import distribution
from util import files as files_lib
from util import logs


def summarize(trial_results):
  """Mean and std over trials of every task metric."""
  summary = {}
  for task in trial_results[0]:
    summary[task] = {}
    for metric in trial_results[0][task]:
      values = [r[task][metric] for r in trial_results]
      summary[task][metric] = {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
      }
  return summary


def write_results(config, trial_results):
  """The official text format, one line per trial and task, plus JSON."""
  lines = []
  for trial, results in enumerate(trial_results, 1):
    for task, metrics in results.items():
      lines.append(
        f"trial {trial} {task}: "
        + " - ".join(f"{k}: {v:.2f}" for k, v in metrics.items())
      )
  summary = summarize(trial_results)
  for task, metrics in summary.items():
    lines.append(
      f"mean {task}: "
      + " - ".join(
        f"{k}: {v['mean']:.2f} (std {v['std']:.2f})" for k, v in metrics.items()
      )
    )
  files_lib.atomic_write_text("\n".join(lines) + "\n", config.results_txt)
  files_lib.atomic_write_json(
    {"trials": trial_results, "summary": summary}, config.results_json
  )
  logs.log(f"Wrote results to {config.results_txt}")


def _check_fresh(directory):
  if os.path.isdir(directory) and os.listdir(directory):
    raise FileExistsError(
      f"fine-tuning model_dir {directory} already holds files; move or "
      f"delete it (nothing is deleted for you), or pick another model_dir"
    )


def run_trial(config, tasks, preprocessor, strategy, trial):
  """Trains (if do_train) and evaluates one trial; returns its dev results."""
  trial_run = trial_lib.Trial(config, tasks, preprocessor, strategy, trial)
  best = {"score": None, "results": None}

  def on_epoch_end(run, epoch, last):
    if not config.do_eval or not (config.eval_every_epoch or last):
      return
    results = run.evaluate("dev")
    score = np.mean([next(iter(r.values())) for r in results.values()])
    if best["score"] is None or score > best["score"]:
      best.update(score=score, results=results)
      if config.keep_best_checkpoint:
        run.save("best")
    best["last"] = results

  if config.do_train:
    _check_fresh(trial_run.model_dir)
    record_path, count = preprocessor.prepare(tasks, "train", True)
    trial_run.build(
      int(count // config.train_batch_size * config.num_train_epochs)
    )
    trial_run.train(record_path, count, on_epoch_end)
    trial_run.save()
  else:
    trial_run.build(1)
  results = best.get("last")
  if config.do_eval and results is None:
    results = trial_run.evaluate("dev")
  if config.write_test_outputs and trial <= config.n_writes_test:
    trial_run.write_test_predictions()
  return results


def run_finetuning(config):
  """Runs num_trials trials; writes and returns their dev results."""
  logs.heading(
    f"Config: model={config.model_name}, tasks={','.join(config.task_names)}"
  )
  logs.log_config(config)
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, config.do_lower_case)
  if len(tokenizer.vocab) > config.vocab_size:
    raise ValueError(
      f"vocab_file {config.vocab_file} has "
      f"{len(tokenizer.vocab)} tokens but hparam 'vocab_size' "
      f"is {config.vocab_size}"
    )
  preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
  strategy = distribution.get_strategy(config)
  trial_results = []
  for trial in range(1, config.num_trials + 1):
    logs.heading(f"Trial {trial}/{config.num_trials}")
    results = run_trial(config, tasks, preprocessor, strategy, trial)
    if results is not None:
      trial_results.append(results)
      write_results(config, trial_results)
    if (
      config.do_train
      and not config.keep_all_models
      and trial != config.num_trials
    ):
      # asked for by keep_all_models=false (official): only the checkpoints
      # this trial wrote are removed
      shutil.rmtree(f"{config.model_dir}_{trial}")
  return trial_results
