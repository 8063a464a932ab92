"""How a bfloat16 SavedModel's predictions compare with the float32 one's.

  python export_savedmodel.py ... --output F32
  python export_savedmodel.py ... --output BF16 --mixed-precision mixed_bfloat16
  python benchmarks/export_agreement.py --float32 F32 --bfloat16 BF16 \
      --data D/finetuning_data/tnews/dev.json

Both are one classification task's exports (text in). Every input of
--data (as serve_throughput.py reads them) goes through both
``serving_default`` signatures in batches of 64; prints one JSON line: the
share of identical labels, the largest and the mean absolute difference
of the probabilities, and the number of inputs.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import serve_throughput  # noqa: E402


def predictions(directory, requests, batch=64):
  """(labels [n], probabilities [n, classes]) of a SavedModel's
  serving_default over ``requests``."""
  import tensorflow as tf
  import tensorflow_text  # noqa: F401 (registers the tokenizer's ops)

  serve = tf.saved_model.load(directory).signatures["serving_default"]
  labels, probabilities = [], []
  for start in range(0, len(requests), batch):
    chunk = requests[start : start + batch]
    inputs = {name: tf.constant([r[name] for r in chunk]) for name in chunk[0]}
    outputs = serve(**inputs)
    labels.extend(outputs["label"].numpy().tolist())
    probabilities.append(outputs["probabilities"].numpy())
  return np.array(labels), np.concatenate(probabilities)


def compare(float32_dir, bfloat16_dir, data):
  """The agreement figures of the two exports on ``data``."""
  with open(os.path.join(float32_dir, "serving.json"), encoding="utf-8") as f:
    description = json.load(f)
  if description["type"] != "classification":
    raise ValueError(
      f"{float32_dir} serves {description['type']}; this compares "
      f"classification exports"
    )
  pair = "text_b" in description["signatures"]["serving_default"]["inputs"]
  requests = serve_throughput.read_inputs(data, "classification", pair)
  labels_32, probs_32 = predictions(float32_dir, requests)
  labels_16, probs_16 = predictions(bfloat16_dir, requests)
  difference = np.abs(probs_32 - probs_16)
  return {
    "task": description["task"],
    "inputs": len(requests),
    "identical_labels": float(np.mean(labels_32 == labels_16)),
    "max_probability_difference": float(difference.max()),
    "mean_probability_difference": float(difference.mean()),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--float32", required=True)
  parser.add_argument("--bfloat16", required=True)
  parser.add_argument("--data", required=True)
  args = parser.parse_args()
  print(json.dumps(compare(args.float32, args.bfloat16, args.data)))


if __name__ == "__main__":
  main()
