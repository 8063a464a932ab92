"""Choosing a `tf.distribute` strategy from the config."""

import json
import os

import tensorflow as tf


def resolve_strategy_name(config):
  """The strategy "auto" resolves to: TPU if named, several GPUs -> mirrored,
  else one device."""
  name = config.distribution_strategy
  if name != "auto":
    return name
  if config.use_tpu or config.tpu_name:
    return "tpu"
  if len(tf.config.list_logical_devices("GPU")) > 1:
    return "mirrored"
  return "one_device"


def get_strategy(config):
  """Builds the strategy named by ``config.distribution_strategy``."""
  name = resolve_strategy_name(config)
  if name == "one_device":
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker_mirrored":
    if "TF_CONFIG" not in os.environ:
      raise ValueError(
        "distribution_strategy 'multi_worker_mirrored' needs "
        "the TF_CONFIG environment variable (see README)"
      )
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
      tpu=config.tpu_name,
      zone=config.tpu_zone,
      project=config.gcp_project,
      job_name=config.tpu_job_name or "worker",
    )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = tf.distribute.TPUStrategy(resolver)
    check_tpu_cores(config, strategy.num_replicas_in_sync)
    return strategy
  raise ValueError(f"Unknown distribution_strategy {name!r}")


def check_tpu_cores(config, cores):
  """num_tpu_cores (official: the TPU's shard count) must be the cores the
  TPU strategy found; TF2 always uses them all."""
  if config.num_tpu_cores not in (1, cores):
    raise ValueError(
      f"hparam 'num_tpu_cores' is {config.num_tpu_cores} but the TPU "
      f"{config.tpu_name!r} has {cores} cores (TF2 uses all of them)"
    )


def is_chief(strategy):
  """True on the worker that writes checkpoints, summaries and results."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type == "chief":
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return task_type == "worker" and task_id == 0 and "chief" not in cluster


def check_batch_divisible(config, strategy):
  """Each global batch must split evenly across the replicas."""
  replicas = strategy.num_replicas_in_sync
  for name in ("train_batch_size", "eval_batch_size"):
    size = getattr(config, name)
    if size % replicas:
      raise ValueError(
        f"hparam {name!r} ({size}) is not divisible by the "
        f"{replicas} replicas of the distribution strategy"
      )
  parts = getattr(config, "gradient_accumulation_steps", 1) * replicas
  if config.train_batch_size % parts:
    raise ValueError(
      f"hparam 'train_batch_size' ({config.train_batch_size}) is not "
      f"divisible by gradient_accumulation_steps x replicas ({parts})"
    )


def is_tpu(strategy):
  """Whether ``strategy`` runs on TPUs."""
  return isinstance(strategy, tf.distribute.TPUStrategy)


def _on_one_cpu(strategy):
  """Whether ``strategy`` places everything on this machine's CPU."""
  if not isinstance(strategy, tf.distribute.OneDeviceStrategy):
    return False
  device = strategy.extended.worker_devices[0]
  return tf.DeviceSpec.from_string(device).device_type == "CPU"


def distribute_dataset(strategy, dataset):
  """``dataset`` ready for ``strategy.run``.

  A one-device strategy on the CPU takes the dataset as it is: its
  distributed iterator copies every batch through a multi-device buffer,
  which slows short steps, and can take seconds to delete after training.
  """
  if _on_one_cpu(strategy):
    return dataset
  return strategy.experimental_distribute_dataset(dataset)


def distribute_datasets_from_function(strategy, dataset_fn):
  """``dataset_fn(input_context)`` for each input pipeline of ``strategy``
  (the one pipeline's dataset itself on one CPU, as `distribute_dataset`)."""
  if _on_one_cpu(strategy):
    return dataset_fn(tf.distribute.InputContext())
  return strategy.distribute_datasets_from_function(dataset_fn)
