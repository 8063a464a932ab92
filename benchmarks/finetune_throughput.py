"""Fine-tuning throughput: one task, one epoch, dev prediction, timed by phase.

  python benchmarks/finetune_throughput.py --task tnews --data-dir D \
      --batch 32 --seq 128 [--train-examples 3200] [--dev-examples 500] \
      [--no-bucketing] [--mixed-precision mixed_bfloat16] [--run-script]

D holds ``finetuning_data/<task>/`` and ``vocab.txt`` (as for
run_finetuning.py). Random initialisation, CLUE-tiny shape unless
--hparams says otherwise. Prints one JSON line: the fixed costs (imports,
preprocessing, model build, the first training call with its tracing, the
first dev pass with its tracing) apart from the steady rates (train
steps/s and examples/s, eval examples/s), the padding fraction of the
training batches, and the whole run's wall time. --run-script also times
``python run_finetuning.py`` with the same hparams, as a user runs it.
"""

import time

START = time.perf_counter()

import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from util import startup  # noqa: E402

if __name__ == "__main__":
  startup.imports_begin()  # as run_finetuning.py does

import argparse  # noqa: E402
import faulthandler  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import configure_finetuning  # noqa: E402
from benchmarks import finetune_args  # noqa: E402
from benchmarks import op_profile  # noqa: E402
from finetune import preprocessing  # noqa: E402
from finetune import task_builder  # noqa: E402
from finetune import trial as trial_lib  # noqa: E402
from finetune import trial_state  # noqa: E402
from model import tokenizers  # noqa: E402
from training import distribution  # noqa: E402
from training import progress  # noqa: E402

# the phases of a run as a user sees it (the second dev pass only times the
# steady rate)
PHASES = ("import_s", "preprocess_s", "build_s", "train_s", "first_eval_s")
TINY = {"model_size": "tiny", "vocab_size": 21128}


class TimedProgress(progress.ProgressLogger):
  """Keeps (step, time) of every progress line. After the last step, the
  Python stacks go to stderr every STALL_S seconds until training returns
  (a run in several once spent 5-9 s there: this shows where)."""

  STALL_S = 2.0

  def __init__(self, total_steps):
    super().__init__(total_steps, 0)
    self.marks = []

  def log(self, step, report):
    self.marks.append((step, time.perf_counter()))
    super().log(step, report)
    if step == self.total_steps:
      faulthandler.dump_traceback_later(self.STALL_S, repeat=True)


def hparams_of(args, model_dir):
  hparams = dict(
    TINY,
    task_names=[args.task],
    init_checkpoint=None,
    max_seq_length=args.seq,
    train_batch_size=args.batch,
    eval_batch_size=args.batch,
    num_train_epochs=1.0,
    max_examples={"train": args.train_examples, "dev": args.dev_examples},
    bucket_by_length=not args.no_bucketing,
    mixed_precision=args.mixed_precision,
    log_every=10,
    iterations_per_loop=1000,
    model_dir=os.path.join(model_dir, "model"),
    preprocessed_data_dir=os.path.join(model_dir, "tfrecords"),
    results_txt=os.path.join(model_dir, "results.txt"),
    results_json=os.path.join(model_dir, "results.json"),
  )
  for text in args.hparams:
    hparams.update(json.loads(text))
  return hparams


def padding_fraction(preprocessor, record_path, batch, steps):
  """Share of the training batches' tokens that are padding."""
  real = total = 0
  dataset = preprocessor.dataset(record_path, batch, True, seed=0)
  for features in dataset.take(steps):
    mask = features["input_mask"].numpy()
    real, total = real + mask.sum(), total + mask.size
  return 1.0 - real / total


def train_and_eval(config, figures, profile_dir=None):
  """Runs the phases, adding each one's figures."""
  clock = time.perf_counter()
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, config.do_lower_case)
  preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
  train_path, n_train = preprocessor.prepare(tasks, "train", True)
  preprocessor.prepare(tasks, "dev", False)
  figures["preprocess_s"], clock = (
    time.perf_counter() - clock,
    time.perf_counter(),
  )
  steps = trial_lib.num_train_steps(config, n_train)
  trial = trial_lib.Trial(
    config, tasks, preprocessor, distribution.get_strategy(config), 1, steps
  )
  figures["build_s"], clock = time.perf_counter() - clock, time.perf_counter()
  timed = TimedProgress(steps)
  config.do_eval = False  # dev is timed on its own below
  try:
    with op_profile.traced(profile_dir):
      trial.train(train_path, n_train, trial_state.EpochTracker(config), timed)
  finally:
    faulthandler.cancel_dump_traceback_later()
  figures["train_s"] = time.perf_counter() - clock
  # after the last step: the final checkpoint and the iterator's deletion
  figures["after_last_step_s"] = time.perf_counter() - timed.marks[-1][1]
  (first_step, first_time), (last_step, last_time) = (
    timed.marks[0],
    timed.marks[-1],
  )
  if last_step == first_step:
    raise SystemExit("too few steps to time: raise --train-examples")
  rate = (last_step - first_step) / (last_time - first_time)
  figures["first_train_call_s"] = first_time - clock
  figures["train_steps_per_s"] = rate
  figures["train_examples_per_s"] = rate * config.train_batch_size
  config.do_eval, clock = True, time.perf_counter()
  results = trial.evaluate("dev")
  figures["first_eval_s"], clock = (
    time.perf_counter() - clock,
    time.perf_counter(),
  )
  trial.evaluate("dev")
  n_dev = len(trial.examples(tasks[0], "dev"))
  figures["eval_examples_per_s"] = n_dev / (time.perf_counter() - clock)
  figures.update(train_steps=steps, dev_examples=n_dev, dev_results=results)
  figures["total_s"] = sum(figures[k] for k in PHASES)
  figures["padding_fraction"] = padding_fraction(
    preprocessor, train_path, config.train_batch_size, steps
  )


def run_script_seconds(args, hparams):
  """Wall time of ``python run_finetuning.py`` with the same hparams."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  clock = time.perf_counter()
  subprocess.run(
    [sys.executable, os.path.join(root, "run_finetuning.py"),
     "--data-dir", args.data_dir, "--model-name", "bench",
     "--hparams", json.dumps(hparams)],
    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
  )  # fmt: skip
  return time.perf_counter() - clock


def main():
  parser = finetune_args.add_workload_flags(
    argparse.ArgumentParser(description=__doc__.splitlines()[0])
  )
  parser.add_argument("--no-bucketing", action="store_true")
  parser.add_argument("--mixed-precision", default=None)
  parser.add_argument("--hparams", action="append", default=[])
  parser.add_argument("--run-script", action="store_true")
  parser.add_argument(
    "--profile",
    default=None,
    help="trace the training into this directory and print its top ops",
  )
  args = parser.parse_args()
  figures = {"import_s": time.perf_counter() - START}
  with tempfile.TemporaryDirectory() as work_dir:
    hparams = hparams_of(args, work_dir)
    config = configure_finetuning.FinetuningConfig(
      "bench", args.data_dir, **hparams
    )
    train_and_eval(config, figures, args.profile)
    if args.run_script:
      script_dir = os.path.join(work_dir, "script")
      figures["run_finetuning_py_s"] = run_script_seconds(
        args, hparams_of(args, script_dir)
      )
  figures.update(
    task=args.task, batch=args.batch, seq=args.seq,
    bucketing=not args.no_bucketing, mixed_precision=args.mixed_precision,
    threads=os.cpu_count(), tf=tf.__version__,
  )  # fmt: skip
  print(json.dumps({k: _rounded(v) for k, v in figures.items()}))
  if args.profile:
    print(json.dumps({"top_ops": op_profile.top_ops(args.profile)}))


def _rounded(value):
  if isinstance(value, float):
    return round(value, 4)
  if isinstance(value, np.floating):
    return round(float(value), 4)
  return value


if __name__ == "__main__":
  startup.imports_done()
  main()
