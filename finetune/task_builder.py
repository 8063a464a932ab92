"""The task registry: task name -> task class."""

from finetune import choice_tasks
from finetune import clue_tasks
from finetune import conll
from finetune import custom_tasks
from finetune import hfl_tasks
from finetune import qa
from finetune import tagging

TASKS = dict(
  clue_tasks.CLUE_TASKS,
  **choice_tasks.CHOICE_TASKS,
  **hfl_tasks.HFL_TASKS,
  cluener=tagging.CLUENER,
  cmrc2018=qa.QATask,
  drcd=lambda config: qa.QATask(config, "drcd"),
)


def get_task(config, name):
  if name in config.custom_tasks:
    spec = dict(config.custom_tasks[name])
    kind = spec.pop("type", "classification")
    builders = {
      "classification": custom_tasks.CustomClassificationTask,
      "regression": custom_tasks.CustomRegressionTask,
      "tagging": conll.ConllTaggingTask,
    }
    if kind not in builders:
      raise ValueError(
        f"custom_tasks.{name}: type {kind!r} is not one of {sorted(builders)}"
      )
    return builders[kind](config, name, spec)
  if name not in TASKS:
    raise ValueError(
      f"Unknown task {name!r}; known tasks are "
      f"{sorted(TASKS)}, or describe it in 'custom_tasks'"
    )
  return TASKS[name](config)


def get_tasks(config):
  tasks = [get_task(config, name) for name in config.task_names]
  choice = [t.name for t in tasks if t.max_choices]
  if choice and len(tasks) > 1:
    raise ValueError(
      f"hparam 'task_names' {config.task_names}: {choice[0]} is a "
      f"multiple-choice task (its inputs are one row per option); "
      f"fine-tune it on its own"
    )
  return tasks
