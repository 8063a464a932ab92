"""The task registry: task name -> task class."""

from finetune import clue_tasks
from finetune import custom_tasks
from finetune import qa
from finetune import tagging

TASKS = dict(clue_tasks.CLUE_TASKS, cluener=tagging.CLUENER, cmrc2018=qa.QATask)


def get_task(config, name):
  if name in config.custom_tasks:
    spec = dict(config.custom_tasks[name])
    if spec.pop("type", "classification") == "tagging":
      return tagging.ConllTaggingTask(config, name, spec)
    return custom_tasks.CustomClassificationTask(config, name, spec)
  if name not in TASKS:
    raise ValueError(
      f"Unknown task {name!r}; known tasks are "
      f"{sorted(TASKS)}, or describe it in 'custom_tasks'"
    )
  return TASKS[name](config)


def get_tasks(config):
  return [get_task(config, name) for name in config.task_names]
