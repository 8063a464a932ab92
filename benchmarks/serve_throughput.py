"""Serving speed of an exported task from raw text, beside transformers.

  python benchmarks/serve_throughput.py --savedmodel DIR --data F \
      [--hf-dir HF] [--calls 300]

DIR is export_savedmodel.py's output for one fine-tuned task; its
``serving_default`` signature tokenizes in the graph and decodes the
predictions, and its serving.json says what the task is. F holds the
inputs, by the task's type:
- classification of one text: CLUE JSON lines ("sentence" or "text"
  field) or plain lines;
- classification or regression of pairs: CLUE JSON lines ("sentence1",
  "sentence2") or tab-separated lines;
- tagging: CLUENER JSON lines ("text") or plain lines;
- QA: SQuAD-format JSON (question, context).
Measures latency at batch 1 (p50/p99 over --calls single inputs, after
warm-up) and throughput at batch 64. With --hf-dir and torch/transformers
installed, transformers' pipeline does the same job on the same inputs:
``text-classification`` (pairs as ``text_pair``), ``token-classification``
with simple aggregation, and for QA what its ``question-answering``
pipeline did (transformers 5 removed it: `hf_qa_call`). HF is the same model
written by ``convert_checkpoint.py --format hf --task T``; for QA, which
transformers has no class for, any ELECTRA directory of the same shape:
an ``ElectraForQuestionAnswering`` head is added to it (the work, not the
weights, sets the cost). Prints one JSON line per implementation.
"""

import argparse
import json
import os
import time

import numpy as np


def read_lines(path):
  with open(path, encoding="utf-8") as f:
    return [line for line in f.read().split("\n") if line.strip()]


def read_inputs(path, kind, pair):
  """Requests: dicts of the signature's inputs, one per example."""
  if kind == "qa":
    with open(path, encoding="utf-8") as f:
      data = json.load(f)["data"]
    return [
      {"question": qa["question"], "context": paragraph["context"]}
      for article in data
      for paragraph in article["paragraphs"]
      for qa in paragraph["qas"]
    ]
  requests = []
  for line in read_lines(path):
    row = json.loads(line) if line.startswith("{") else None
    if pair:
      a, b = (
        (row["sentence1"], row["sentence2"]) if row else line.split("\t")[:2]
      )
      requests.append({"text": a, "text_b": b})
    else:
      text = (row.get("sentence") or row.get("text")) if row else line
      requests.append({"text": text})
  return requests


def measure(call, requests, calls, name):
  """Latency at batch 1 and throughput at batch 64 of ``call``."""
  for request in requests[:20]:
    call([request])
  latencies = []
  for i in range(calls):
    clock = time.perf_counter()
    call([requests[i % len(requests)]])
    latencies.append(1000.0 * (time.perf_counter() - clock))
  batches = [requests[i : i + 64] for i in range(0, 64 * 8, 64)]
  batches = [b for b in batches if len(b) == 64] or [(requests * 64)[:64]]
  call(batches[0])
  clock = time.perf_counter()
  for batch in batches:
    call(batch)
  rate = 64 * len(batches) / (time.perf_counter() - clock)
  return {
    "implementation": name,
    "batch1_p50_ms": round(float(np.percentile(latencies, 50)), 3),
    "batch1_p99_ms": round(float(np.percentile(latencies, 99)), 3),
    "batch64_per_s": round(rate, 1),
    "requests": len(requests),
  }


def savedmodel_call(directory):
  import tensorflow as tf
  import tensorflow_text  # noqa: F401 (registers the tokenizer's ops)

  function = tf.saved_model.load(directory).signatures["serving_default"]

  def call(batch):
    inputs = {k: tf.constant([r[k] for r in batch]) for k in batch[0]}
    return {k: v.numpy() for k, v in function(**inputs).items()}

  return call


def hf_qa_call(directory, max_length, stride=0, n_best=20, longest=30):
  """What transformers' question-answering pipeline did (transformers 5
  removed it): windows from the fast tokenizer with a stride, the model on
  every window, and the best-scoring span of at most ``longest`` tokens
  within the context, mapped to characters by the offsets."""
  import torch
  import transformers

  model = transformers.ElectraForQuestionAnswering.from_pretrained(
    directory, num_labels=2, ignore_mismatched_sizes=True
  )
  tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
  model.eval()

  def call(batch):
    encoded = tokenizer(
      [r["question"] for r in batch], [r["context"] for r in batch],
      truncation="only_second", max_length=max_length, stride=stride,
      return_overflowing_tokens=True, return_offsets_mapping=True,
      padding=True, return_tensors="pt",
    )  # fmt: skip
    offsets = encoded.pop("offset_mapping").numpy()
    example = encoded.pop("overflow_to_sample_mapping").numpy()
    with torch.no_grad():
      out = model(**encoded)
    best = {}
    for w in range(len(example)):
      context = np.array(encoded.sequence_ids(w)) == 1
      starts = np.argsort(out.start_logits[w].numpy())[::-1][:n_best]
      ends = np.argsort(out.end_logits[w].numpy())[::-1][:n_best]
      for s in starts:
        for e in ends:
          if context[s] and context[e] and s <= e < s + longest:
            score = float(out.start_logits[w][s] + out.end_logits[w][e])
            if score > best.get(example[w], (-np.inf,))[0]:
              best[example[w]] = (score, offsets[w][s][0], offsets[w][e][1])
    return [
      batch[i]["context"][b[1] : b[2]] if (b := best.get(i)) else ""
      for i in range(len(batch))
    ]

  return call


def hf_call(directory, kind, max_length):
  import torch
  import transformers

  torch.set_grad_enabled(False)
  if kind == "qa":
    return hf_qa_call(directory, max_length)
  if kind == "tagging":
    tag = transformers.pipeline(
      "token-classification", model=directory, aggregation_strategy="simple"
    )
    return lambda batch: tag([r["text"] for r in batch], batch_size=len(batch))
  classify = transformers.pipeline("text-classification", model=directory)

  def call(batch):
    inputs = [
      {"text": r["text"], "text_pair": r["text_b"]} if "text_b" in r
      else r["text"]
      for r in batch
    ]  # fmt: skip
    return classify(inputs, batch_size=len(batch), truncation=True)

  return call


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--savedmodel", required=True)
  parser.add_argument("--data", required=True)
  parser.add_argument("--hf-dir", default=None)
  parser.add_argument("--calls", type=int, default=300)
  args = parser.parse_args()
  with open(os.path.join(args.savedmodel, "serving.json")) as f:
    serving = json.load(f)
  inputs = serving["signatures"]["serving_default"]["inputs"]
  kind = serving["type"]
  requests = read_inputs(args.data, kind, "text_b" in inputs)
  name = f"savedmodel {serving['task']} ({kind})"
  call = savedmodel_call(args.savedmodel)
  print(json.dumps(measure(call, requests, args.calls, name)))
  if args.hf_dir:
    call = hf_call(args.hf_dir, kind, serving["max_seq_length"])
    name = f"transformers pipeline ({kind})"
    print(json.dumps(measure(call, requests, args.calls, name)))


if __name__ == "__main__":
  main()
