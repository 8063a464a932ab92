"""`run_finetuning(config)`: trials, dev results and submission files."""

import os
import shutil

import numpy as np
import tensorflow as tf

from finetune import preprocessing
from finetune import task_builder
from finetune import trial as trial_lib
from finetune import trial_state
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


def _metrics_line(metrics):
  return " - ".join(f"{k}: {v:.2f}" for k, v in metrics.items())


def _summary_lines(summary, suffix=""):
  return [
    f"mean {task}{suffix}: "
    + " - ".join(
      f"{k}: {v['mean']:.2f} (std {v['std']:.2f})" for k, v in metrics.items()
    )
    for task, metrics in summary.items()
  ]


def write_results(config, trial_results, best_results=None):
  """The official text format, one line per trial and task, plus JSON.

  Args:
    trial_results: per trial, {task: dev metrics} after the last epoch.
    best_results: per trial, {"epoch": e, "results": {task: metrics}} of
      its best dev epoch (what CLUE reports), when known, and optionally
      the "history" of every epoch's results.
  """
  lines = []
  best_results = best_results or []
  for trial, results in enumerate(trial_results, 1):
    for task, metrics in results.items():
      lines.append(f"trial {trial} {task}: {_metrics_line(metrics)}")
    if trial <= len(best_results):
      best = best_results[trial - 1]
      for task, metrics in best["results"].items():
        lines.append(
          f"trial {trial} {task} (best epoch {best['epoch']}): "
          + _metrics_line(metrics)
        )
  summary = summarize(trial_results)
  lines += _summary_lines(summary)
  report = {"trials": trial_results, "summary": summary}
  if best_results:
    report["best"] = best_results
    report["best_summary"] = summarize([b["results"] for b in best_results])
    lines += _summary_lines(report["best_summary"], " (best epochs)")
  files_lib.atomic_write_text("\n".join(lines) + "\n", config.results_txt)
  files_lib.atomic_write_json(report, config.results_json)
  logs.log(f"Wrote results to {config.results_txt}")


def _fresh_or_resumable(model_dir, config):
  """The saved state of a trial directory; an error when the directory
  holds files of something else, or a trial trained with other hparams
  (reusing or resuming it would report or continue another run)."""
  state = trial_state.load(model_dir)
  if state is None and os.path.isdir(model_dir) and os.listdir(model_dir):
    raise FileExistsError(
      f"fine-tuning model_dir {model_dir} already holds files; move or "
      f"delete it (nothing is deleted for you), or pick another model_dir"
    )
  changes = [] if state is None else trial_state.config_changes(state, config)
  if changes:
    raise FileExistsError(
      f"fine-tuning model_dir {model_dir} holds a trial trained with other "
      f"hparams ({'; '.join(changes)}), so it can be neither reused nor "
      f"resumed; pick another model_dir or --model-name, or move that "
      f"directory away (nothing is deleted for you)"
    )
  return state


def train_trial(config, tasks, preprocessor, strategy, trial, state):
  """Builds and trains a trial, resuming from its newest readable
  checkpoint; returns it and its `EpochTracker`."""
  record_path, count = preprocessor.prepare(tasks, "train", True)
  trial_run = trial_lib.Trial(
    config, tasks, preprocessor, strategy, trial,
    trial_lib.num_train_steps(config, count),
  )  # fmt: skip
  tracker = trial_state.EpochTracker(config)
  if state is not None:
    step = trial_run.resume()
    steps_per_epoch = count // config.train_batch_size
    tracker.replay(state["history"], step / steps_per_epoch)
    logs.log(f"Resuming trial {trial} at step {step}")
  trial_run.train(record_path, count, tracker)
  trial_run.save()
  return trial_run, tracker


def write_finished_test_predictions(
  config, tasks, preprocessor, strategy, trial
):
  """The test predictions of a trial finished earlier, from its final
  checkpoint (which keep_all_models false removes: then it says so)."""
  model_dir = trial_lib.trial_dir(config, trial)
  if tf.train.latest_checkpoint(model_dir) is None:
    logs.log(f"No checkpoint in {model_dir}: no test predictions")
    return
  trial_lib.Trial(
    config, tasks, preprocessor, strategy, trial, weights="trained"
  ).write_test_predictions()


def run_trial(config, tasks, preprocessor, strategy, trial):
  """Trains (if do_train) and evaluates one trial.

  Without do_train, the trial restores the fine-tuned model (task heads
  included) from init_checkpoint and only evaluates and predicts. With
  do_train, a trial interrupted earlier resumes from its newest checkpoint
  and a finished one is not run again.
  Returns:
    (dev results after the last epoch, {"epoch", "results", "history"} of
    the best epoch), both None without do_eval.
  """
  writes_test = config.write_test_outputs and trial <= config.n_writes_test
  if config.do_train:
    state = _fresh_or_resumable(trial_lib.trial_dir(config, trial), config)
    if state is not None and state["done"]:
      logs.log(f"Trial {trial} finished earlier; its results are reused")
      if writes_test:
        write_finished_test_predictions(
          config, tasks, preprocessor, strategy, trial
        )
      return state["last"], state["best"]
    trial_run, tracker = train_trial(
      config, tasks, preprocessor, strategy, trial, state
    )
  else:
    trial_run = trial_lib.Trial(
      config, tasks, preprocessor, strategy, trial, weights="finetuned"
    )
    tracker = trial_state.EpochTracker(config)
  if config.do_eval and tracker.last is None:
    tracker.add(trial_run, 0, trial_run.evaluate("dev"))
  if writes_test:
    trial_run.write_test_predictions()
  if config.do_train:
    trial_state.save(trial_run.model_dir, tracker, trial_run.step, done=True)
  return tracker.outcome()


def _drop_checkpoints(model_dir):
  """keep_all_models false (official): the trial's checkpoints go, its
  state file (results) stays so a rerun does not train it again."""
  for name in os.listdir(model_dir):
    if name == trial_state.STATE_FILE:
      continue
    target = os.path.join(model_dir, name)
    if os.path.isdir(target):
      shutil.rmtree(target)
    else:
      os.remove(target)


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
  if config.bucket_by_length and distribution.is_tpu(strategy):
    logs.log("bucket_by_length is off on TPUs (they need one batch shape)")
    config.bucket_by_length = False
  trial_results, best_results = [], []
  for trial in range(1, config.num_trials + 1):
    logs.heading(f"Trial {trial}/{config.num_trials}")
    results, best = run_trial(config, tasks, preprocessor, strategy, trial)
    if results is not None:
      trial_results.append(results)
      best_results.append(best)
      write_results(config, trial_results, best_results)
    if (
      config.do_train
      and not config.keep_all_models
      and trial != config.num_trials
    ):
      # asked for by keep_all_models=false (official): only the checkpoints
      # this trial wrote are removed
      _drop_checkpoints(f"{config.model_dir}_{trial}")
  return trial_results
