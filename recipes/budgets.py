"""How much compute each ``reproduce_clue.py --budget`` spends.

Each budget overrides CLUE's recipe (``configs/electra_tiny_zh.json`` for
pretraining, ``configs/finetune_clue_tiny.json`` for fine-tuning):

- ``full``: the recipe itself (1M pretraining steps: GPUs or TPUs with a
  ``distribution_strategy``), all data, 10 epochs, 3 trials;
- ``cpu``: about an hour on 2 CPU cores: 1800 steps of batch 32, then
  fine-tuning on the first 1500 training and 800 dev examples of each task,
  3 epochs, 2 trials;
- ``smoke``: minutes, to check the whole pipeline.
"""

import dataclasses

CLUE_TASKS = ("afqmc", "tnews", "iflytek", "cmnli", "cluewsc2020", "csl")


@dataclasses.dataclass(frozen=True)
class Budget:
  pretrain: dict
  finetune: dict
  description: str


BUDGETS = {
  "full": Budget(
    pretrain={"save_checkpoints_steps": 50000, "num_eval_steps": 100},
    finetune={"num_trials": 3},
    description="CLUE's recipe: 1M pretraining steps, full data, 3 trials",
  ),
  "cpu": Budget(
    pretrain={
      "num_train_steps": 1800,
      "train_batch_size": 32,
      "eval_batch_size": 32,
      "num_warmup_steps": 180,
      "save_checkpoints_steps": 300,
      "num_eval_steps": 30,
      "log_every": 100,
    },
    finetune={
      "num_train_epochs": 3.0,
      "num_trials": 2,
      "max_examples": {"train": 1500, "dev": 800},
    },
    description=(
      "about an hour on 2 CPU cores: 1800 pretraining steps of batch 32; "
      "fine-tuning on 1500 train / 800 dev examples per task, 3 epochs, "
      "2 trials"
    ),
  ),
  "smoke": Budget(
    pretrain={
      "num_train_steps": 40,
      "train_batch_size": 16,
      "eval_batch_size": 16,
      "max_seq_length": 64,
      "num_warmup_steps": 10,
      "save_checkpoints_steps": 20,
      "num_eval_steps": 4,
      "log_every": 10,
    },
    finetune={
      "num_train_epochs": 2.0,
      "num_trials": 1,
      "max_seq_length": 64,
      "max_examples": {"train": 192, "dev": 128},
    },
    description="minutes: 40 pretraining steps; 192/128 examples per task",
  ),
}
