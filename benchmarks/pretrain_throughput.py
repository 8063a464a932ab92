"""Pretraining throughput and model-FLOPs utilisation on synthetic data.

Usage:
  python benchmarks/pretrain_throughput.py \
      --hparams configs/electra_tiny_zh.json \
      --batch 32 --seq 128 --steps 20 [--mixed-precision mixed_bfloat16] [--jit]
  python benchmarks/pretrain_throughput.py --hparams ... --sweep
Prints one JSON line per configuration: steps/s, sequences/s, tokens/s, the
official FLOP count per step (flops_computation.py conventions) and the
executed one, achieved GFLOP/s, the peak GFLOP/s of a large matmul in the
run's compute dtype (bfloat16 for mixed_bfloat16) and in float32, measured
in the same process, the oneDNN matmul kernel of each dtype (its
instruction set), MFU (executed / the compute dtype's peak), input
pipeline sequences/s, and peak resident memory.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import configure_pretraining  # noqa: E402
from benchmarks import op_profile  # noqa: E402
from benchmarks import peak  # noqa: E402
from model import model_sizes  # noqa: E402
from model import optimization  # noqa: E402
from pretrain import pretrain_data  # noqa: E402
from pretrain import pretraining_model  # noqa: E402
from pretrain import steps as pretrain_steps  # noqa: E402
from training import loop  # noqa: E402
from util import flops  # noqa: E402
from util import hparams as hparams_lib  # noqa: E402


def synthetic_features(batch, seq, vocab, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, vocab, [batch, seq]).astype(np.int32)
  ids[:, 0], ids[:, seq // 2], ids[:, -1] = 101, 102, 102
  segments = np.zeros_like(ids)
  segments[:, seq // 2 + 1 :] = 1
  return {
    "input_ids": tf.constant(ids),
    "input_mask": tf.ones_like(ids),
    "segment_ids": tf.constant(segments),
  }


def input_pipeline_rate(batch, seq, vocab, batches=50):
  """Sequences/s that the TFRecord pipeline delivers (parse + batch)."""
  from pretrain import example_builder

  directory = tempfile.mkdtemp()
  path = os.path.join(directory, "pretrain_data.tfrecord-0-of-1")
  features = synthetic_features(batch, seq, vocab)
  with tf.io.TFRecordWriter(path) as writer:
    for row in range(batch):
      writer.write(
        example_builder.serialize_example(
          *(
            features[k][row].numpy().tolist()
            for k in ("input_ids", "input_mask", "segment_ids")
          )
        )
      )
  dataset = iter(pretrain_data.make_dataset([path], batch, seq, True))
  next(dataset)
  start = time.perf_counter()
  for _ in range(batches):
    next(dataset)
  return batches * batch / (time.perf_counter() - start)


def timed_steps(train_steps, iterator, steps, profile_dir):
  """Seconds for ``steps`` steps (traced by the profiler into profile_dir
  when given: slower, for the op breakdown only)."""
  with op_profile.traced(profile_dir):
    start = time.perf_counter()
    for _ in range(steps):
      loss = train_steps(iterator, tf.constant(1))["loss"]
    float(loss)
    return time.perf_counter() - start


def measure(hparams, batch, seq, steps, warmup, profile_dir=None):
  hparams = dict(
    hparams,
    train_batch_size=batch,
    max_seq_length=seq,
    num_warmup_steps=0,
    num_train_steps=10**6,
  )
  config = configure_pretraining.PretrainingConfig(
    "bench", "/unused", **hparams
  )
  model = pretraining_model.PretrainingModel(config)
  optimizer = optimization.create_optimizer(
    model.trainable_variables,
    config.learning_rate,
    config.num_train_steps,
    config.weight_decay_rate,
    dynamic_loss_scale=config.mixed_precision == "mixed_float16",
    fused_kernels=config.fused_kernels,
  )
  train_steps = loop.make_train_steps(
    tf.distribute.get_strategy(),
    pretrain_steps.make_pretraining_step(model, optimizer, config),
    optimizer,
    ["loss"],
  )
  features = synthetic_features(batch, seq, config.vocab_size)
  iterator = iter(tf.data.Dataset.from_tensors(features).repeat())
  # the production loop, one step per call as a progress line every step
  for _ in range(warmup):
    float(train_steps(iterator, tf.constant(1))["loss"])
  elapsed = timed_steps(train_steps, iterator, steps, profile_dir)
  disc = model.bert_config
  gen = model_sizes.get_generator_config(config, disc)
  emb = config.embedding_size or disc.hidden_size
  args = (disc, gen, batch, seq, config.vocab_size, emb)
  return (
    config,
    steps / elapsed,
    (
      flops.electra_train_flops(*args),
      flops.electra_executed_flops(*args, mask_prob=config.mask_prob),
    ),
  )


def run(args, hparams, batch, seq, peaks):
  config, steps_per_s, (official, executed) = measure(
    hparams, batch, seq, args.steps, args.warmup, args.profile
  )
  achieved = executed * steps_per_s / 1e9
  return {
    "preset": os.path.basename(args.hparams[-1]) if args.hparams else None,
    "batch": batch,
    "seq": seq,
    "steps": args.steps,
    "mixed_precision": config.mixed_precision,
    "jit": config.jit_compile,
    "steps_per_s": round(steps_per_s, 3),
    "seq_per_s": round(steps_per_s * batch, 2),
    "tokens_per_s": round(steps_per_s * batch * seq),
    "official_flops_per_step": official,
    "executed_flops_per_step": executed,
    "achieved_gflops": round(achieved, 1),
    # MFU against the peak of the dtype the matmuls run in
    "peak_dtype": peaks["dtype"],
    "peak_matmul_gflops": round(peaks["compute"], 1),
    "peak_float32_gflops": round(peaks["float32"], 1),
    "onednn_matmul": peaks["kernels"],
    "mfu": round(achieved / peaks["compute"], 3),
    "input_pipeline_seq_per_s": round(
      input_pipeline_rate(batch, seq, config.vocab_size)
    ),
    "peak_rss_mb": round(
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--hparams", action="append", default=[])
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument(
    "--mixed-precision",
    default=None,
    choices=["mixed_bfloat16", "mixed_float16"],
  )
  parser.add_argument("--jit", action="store_true")
  parser.add_argument(
    "--profile",
    default=None,
    help="trace the timed steps into this directory and print the top ops "
    "(the rate is then the traced one)",
  )
  parser.add_argument(
    "--sweep",
    action="store_true",
    help="seq 128/256/512 at --batch, and batch /2, x2",
  )
  args = parser.parse_args()
  hparams = hparams_lib.merge_hparams(args.hparams)
  hparams.update(mixed_precision=args.mixed_precision, jit_compile=args.jit)
  compute = peak.COMPUTE_DTYPES[args.mixed_precision]
  peaks = {
    "dtype": compute.name,
    "float32": peak.peak_matmul_gflops(tf.float32),
    "kernels": peak.onednn_matmul_kernels(),
  }
  peaks["compute"] = (
    peaks["float32"]
    if compute == tf.float32
    else peak.peak_matmul_gflops(compute)
  )
  shapes = [(args.batch, args.seq)]
  if args.sweep:
    shapes = [(args.batch, s) for s in (128, 256, 512)] + [
      (max(1, args.batch // 2), 128),
      (args.batch * 2, 128),
    ]
  for batch, seq in shapes:
    print(json.dumps(run(args, hparams, batch, seq, peaks)), flush=True)
    if args.profile:
      print(json.dumps({"top_ops": op_profile.top_ops(args.profile)}))


if __name__ == "__main__":
  main()
