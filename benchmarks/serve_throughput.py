"""Serving speed of an exported classifier: raw strings in, logits out.

  python benchmarks/serve_throughput.py --savedmodel DIR [--texts F] \
      [--hf-dir HF] [--calls 300] [--signature classify_text]

DIR is export_savedmodel.py's output for a fine-tuned classifier; its
``classify_text`` signature tokenizes in the graph. Measures latency at
batch 1 (p50/p99 over --calls single texts, after warm-up) and throughput
at batch 64. F holds the texts: CLUE JSON lines (their "sentence" field) or
plain lines; by default the demo corpus. With --hf-dir (the same model
written by ``convert_checkpoint.py --format hf``) and torch/transformers
installed, transformers' ``pipeline("text-classification")`` does the same
work. Prints one JSON line per implementation.
"""

import argparse
import json
import os
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_texts(path):
  if path is None:
    path = os.path.join(ROOT, "demo", "corpus", "life.txt")
  texts = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if line.startswith("{"):
        line = json.loads(line).get("sentence", "")
      if line:
        texts.append(line)
  return texts


def measure(classify, texts, calls, name):
  """Latency at batch 1 and throughput at batch 64 of ``classify``."""
  for text in texts[:20]:
    classify([text])
  latencies = []
  for i in range(calls):
    clock = time.perf_counter()
    classify([texts[i % len(texts)]])
    latencies.append(1000.0 * (time.perf_counter() - clock))
  batches = [texts[i : i + 64] for i in range(0, 64 * 8, 64)]
  batches = [b for b in batches if len(b) == 64] or [(texts * 64)[:64]]
  classify(batches[0])
  clock = time.perf_counter()
  for batch in batches:
    classify(batch)
  rate = 64 * len(batches) / (time.perf_counter() - clock)
  return {
    "implementation": name,
    "batch1_p50_ms": round(float(np.percentile(latencies, 50)), 3),
    "batch1_p99_ms": round(float(np.percentile(latencies, 99)), 3),
    "batch64_texts_per_s": round(rate, 1),
    "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
  }


def savedmodel_classifier(directory, signature):
  import tensorflow as tf
  import tensorflow_text  # noqa: F401 (registers the tokenizer's ops)

  function = tf.saved_model.load(directory).signatures[signature]
  return lambda batch: function(text=tf.constant(batch))["logits"].numpy()


def hf_classifier(directory):
  import torch
  from transformers import pipeline

  torch.set_grad_enabled(False)
  classify = pipeline("text-classification", model=directory, device=-1)
  return lambda batch: classify(batch, batch_size=len(batch), truncation=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--savedmodel", required=True)
  parser.add_argument("--signature", default="classify_text")
  parser.add_argument("--texts", default=None)
  parser.add_argument("--hf-dir", default=None)
  parser.add_argument("--calls", type=int, default=300)
  args = parser.parse_args()
  texts = read_texts(args.texts)
  classify = savedmodel_classifier(args.savedmodel, args.signature)
  print(json.dumps(measure(classify, texts, args.calls, "savedmodel")))
  if args.hf_dir:
    result = measure(
      hf_classifier(args.hf_dir), texts, args.calls, "transformers pipeline"
    )
    print(json.dumps(result))


if __name__ == "__main__":
  main()
