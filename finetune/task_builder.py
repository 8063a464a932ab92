"""The task registry: task name -> task class."""

from finetune import clue_tasks
from finetune import custom_tasks

TASKS = dict(clue_tasks.CLUE_TASKS)


def get_task(config, name):
  if name in config.custom_tasks:
    return custom_tasks.CustomClassificationTask(
        config, name, config.custom_tasks[name])
  if name not in TASKS:
    raise ValueError(f"Unknown task {name!r}; known tasks are "
                     f"{sorted(TASKS)}, or describe it in 'custom_tasks'")
  return TASKS[name](config)


def get_tasks(config):
  return [get_task(config, name) for name in config.task_names]
