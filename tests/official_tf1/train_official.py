"""Trains Google's official TF1 ELECTRA code (unchanged) for a comparison.

Run by ``benchmarks/compare_official.py`` in a process of its own: the
official modules are named like ours (``model``, ``pretrain``, ``util``) and
need TF1 graph mode. The official ``PretrainingModel``, input pipeline and
``create_optimizer`` build the graph exactly as ``TPUEstimator`` would on a
CPU/GPU host; a ``tf.compat.v1.Session`` runs the train op (the estimator is
gone from TF 2.x). Every trainable variable starts from ``--init-checkpoint``
(matched by name), and the result is saved as a TF1 checkpoint.

  python tests/official_tf1/train_official.py --official-dir DIR \
    --data-dir DATA --hparams '{...}' --init-checkpoint CKPT --output OUT
"""

import argparse
import json
import os
import sys
import time

import shims

WARMUP_STEPS = 5  # steps before the steady rate is timed


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
    "--official-dir", required=True, help="google-research/electra checkout"
  )
  parser.add_argument(
    "--data-dir", required=True, help="holds vocab.txt (and by default data)"
  )
  parser.add_argument("--hparams", required=True, help="official hparams JSON")
  parser.add_argument("--init-checkpoint", required=True)
  parser.add_argument("--output", required=True, help="checkpoint directory")
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument(
    "--eval-steps",
    type=int,
    default=0,
    help="instead of training, evaluate --init-checkpoint on this many "
    "batches of the hparams' pretrain_tfrecords with the official metric_fn "
    "and write <output>/official_eval.json",
  )
  return parser.parse_args(argv)


def official_model(official, config, is_training, batch_size):
  """The official input_fn's next batch through its PretrainingModel."""
  tf = official["tf"]
  input_fn = official["pretrain_data"].get_input_fn(config, is_training)
  dataset = input_fn({"batch_size": batch_size})
  features = tf.data.make_one_shot_iterator(dataset).get_next()
  return official["run_pretraining"].PretrainingModel(
    config, features, is_training
  )


def init_trainables(tf, checkpoint):
  """Every trainable variable starts from ``checkpoint``, matched by name."""
  names = {v.op.name: v.op.name for v in tf.trainable_variables()}
  tf.train.init_from_checkpoint(checkpoint, names)


def build_train_graph(official, config, init_checkpoint):
  """The official graph: input_fn -> PretrainingModel -> train op."""
  model = official_model(official, config, True, config.train_batch_size)
  train_op = official["optimization"].create_optimizer(
    model.total_loss,
    config.learning_rate,
    config.num_train_steps,
    weight_decay_rate=config.weight_decay_rate,
    use_tpu=config.use_tpu,
    warmup_steps=config.num_warmup_steps,
    lr_decay_power=config.lr_decay_power,
  )
  init_trainables(official["tf"], init_checkpoint)
  return model, train_op


def evaluate_official(official, config, checkpoint, num_steps):
  """The official evaluation (metric_fn, plus the mean loss as the
  estimator adds it) of ``checkpoint``; returns {metric: value}."""
  tf = official["tf"]
  model = official_model(official, config, False, config.eval_batch_size)
  metric_fn, values = model.eval_metrics
  metrics = metric_fn(*values)
  metrics["loss"] = tf.metrics.mean(model.total_loss)
  init_trainables(tf, checkpoint)
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(tf.local_variables_initializer())
    for _ in range(num_steps):
      sess.run([update for _, update in metrics.values()])
    return {k: float(sess.run(value)) for k, (value, _) in metrics.items()}


def import_official(official_dir):
  shims.install()
  sys.path.insert(0, os.path.abspath(official_dir))
  import tensorflow.compat.v1 as tf

  import configure_pretraining
  import run_pretraining
  from model import optimization
  from pretrain import pretrain_data

  return dict(
    tf=tf,
    configure_pretraining=configure_pretraining,
    run_pretraining=run_pretraining,
    optimization=optimization,
    pretrain_data=pretrain_data,
  )


def main(argv=None):
  args = parse_args(argv)
  official = import_official(args.official_dir)
  tf = official["tf"]
  hparams = json.loads(args.hparams)
  config = official["configure_pretraining"].PretrainingConfig(
    "official", args.data_dir, **hparams
  )
  tf.set_random_seed(args.seed)
  if args.eval_steps:
    results = evaluate_official(
      official, config, args.init_checkpoint, args.eval_steps
    )
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "official_eval.json"), "w") as f:
      json.dump(results, f, indent=1)
    print(json.dumps(results), flush=True)
    return
  model, train_op = build_train_graph(official, config, args.init_checkpoint)
  saver = tf.train.Saver(max_to_keep=1)
  start = time.time()
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(1, config.num_train_steps + 1):
      _, loss = sess.run([train_op, model.total_loss])
      if step == WARMUP_STEPS:
        steady = time.time()
      if step % 100 == 0 or step == config.num_train_steps:
        print(f"official step {step}: loss {loss:.4f}", flush=True)
    if config.num_train_steps > WARMUP_STEPS:
      rate = (config.num_train_steps - WARMUP_STEPS) / (time.time() - steady)
      print(f"official steps/s after {WARMUP_STEPS} steps: {rate:.3f}")
    path = saver.save(
      sess, os.path.join(args.output, "model.ckpt"), config.num_train_steps
    )
  print(f"saved {path} after {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
  main()
