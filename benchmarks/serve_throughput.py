"""Serving speed of an exported task from raw text, beside transformers.

  python benchmarks/serve_throughput.py --savedmodel DIR [DIR ...] --data F \
      [--tflite M.tflite ...] [--hf-dir HF [--peers]] [--calls 300] \
      [--threads 2] [--rounds 2]

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
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_lines(path):
  with open(path, encoding="utf-8") as f:
    return [line for line in f.read().split("\n") if line.strip()]


def read_labels(path):
  """The "label" of every JSON row (None when some row has none)."""
  labels = []
  for line in read_lines(path):
    row = json.loads(line) if line.startswith("{") else {}
    if "label" not in row:
      return None
    labels.append(str(row["label"]))
  return labels


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


def accuracy(call, requests, labels, predicted):
  """Percent of ``requests`` whose predicted label is ``labels``'."""
  hits = 0
  for start in range(0, len(requests), 64):
    outputs = call(requests[start : start + 64])
    hits += sum(
      p == t for p, t in zip(predicted(outputs), labels[start : start + 64])
    )
  return round(100.0 * hits / len(requests), 2)


def savedmodel_call(directory):
  import tensorflow as tf
  import tensorflow_text  # noqa: F401 (registers the tokenizer's ops)

  function = tf.saved_model.load(directory).signatures["serving_default"]

  def call(batch):
    inputs = {k: tf.constant([r[k] for r in batch]) for k in batch[0]}
    return {k: v.numpy() for k, v in function(**inputs).items()}

  return call


def tflite_call(path, threads):
  sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  )
  from interop import litert_serving

  runner = litert_serving.LiteRunner(path, num_threads=threads)
  return lambda batch: runner(**{k: [r[k] for r in batch] for k in batch[0]})


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


def implementations(args, serving, kind):
  """[(name, make its call, how its outputs name labels)] to measure; a
  call is made only when measured (``--only`` makes one)."""
  labels = serving["labels"]

  def by_index(out):
    return [labels[i] for i in np.argmax(out["probabilities"], -1)]

  def which(path, paths):
    """The file's name, when several of its kind are measured."""
    return f" [{os.path.basename(path.rstrip('/'))}]" if len(paths) > 1 else ""

  found = []
  for path in args.savedmodel:
    with open(os.path.join(path, "serving.json")) as f:
      compiled = json.load(f).get("compiled_lengths")
    found.append(
      (
        f"savedmodel {serving['task']} ({kind})"
        + (f" compiled {compiled}" if compiled else "")
        + which(path, args.savedmodel),
        lambda path=path: savedmodel_call(path),
        lambda out: [label.decode() for label in out["label"]],
      )
    )
  for path in args.tflite:
    with open(os.path.splitext(path)[0] + ".json") as f:
      quantize = json.load(f)["quantize"]
    found.append(
      (
        f"litert {quantize} ({kind})" + which(path, args.tflite),
        lambda path=path: tflite_call(path, args.threads),
        by_index,
      )
    )
  if args.peers and kind == "classification":
    import peer_runtimes

    length = serving["max_seq_length"]
    work_dir = tempfile.mkdtemp(prefix="serve_peers_")
    for name, make in peer_runtimes.peer_makers(
      args.hf_dir, work_dir, length, args.threads
    ):
      found.append((name, make, lambda out: out))
  if args.hf_dir:
    found.append(
      (
        f"transformers pipeline ({kind})",
        lambda: hf_call(args.hf_dir, kind, serving["max_seq_length"]),
        lambda out: [o["label"] for o in out],
      )
    )
  return found


def limit_threads(threads):
  import tensorflow as tf

  tf.config.threading.set_intra_op_parallelism_threads(threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  try:
    import torch

    torch.set_num_threads(threads)
  except ImportError:
    pass


def isolated(args):
  """Every implementation measured in a fresh process, round by round."""
  # each child measures one round (argparse keeps the last --rounds)
  argv = [a for a in sys.argv[1:] if a != "--isolate"] + ["--rounds", "1"]
  with open(os.path.join(args.savedmodel[0], "serving.json")) as f:
    serving = json.load(f)
  count = len(implementations(args, serving, serving["type"]))
  for round_index in range(args.rounds):
    for only in range(count):
      result = subprocess.run(
        [sys.executable, __file__, *argv, "--only", str(only)],
        capture_output=True, text=True, check=False,
      )  # fmt: skip
      for line in result.stdout.splitlines():
        if line.startswith("{"):
          row = json.loads(line)
          row["round"] = round_index + 1
          print(json.dumps(row), flush=True)
      if result.returncode:
        print(result.stderr[-2000:], file=sys.stderr)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--savedmodel",
    required=True,
    nargs="+",
    help="One or more exports of the same task (e.g. with and without "
    "--compiled-lengths); the first's serving.json describes the task.",
  )
  parser.add_argument("--data", required=True)
  parser.add_argument("--tflite", nargs="*", default=[])
  parser.add_argument("--hf-dir", default=None)
  parser.add_argument("--peers", action="store_true")
  parser.add_argument("--calls", type=int, default=300)
  parser.add_argument("--threads", type=int, default=None)
  parser.add_argument("--rounds", type=int, default=1)
  parser.add_argument(
    "--isolate",
    action="store_true",
    help="Run each implementation in a process of its own (still "
    "alternating): one runtime's idle threads then cannot slow another.",
  )
  parser.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.isolate:
    return isolated(args)
  if args.threads:
    limit_threads(args.threads)
  with open(os.path.join(args.savedmodel[0], "serving.json")) as f:
    serving = json.load(f)
  inputs = serving["signatures"]["serving_default"]["inputs"]
  kind = serving["type"]
  requests = read_inputs(args.data, kind, "text_b" in inputs)
  labels = read_labels(args.data) if kind == "classification" else None
  found = implementations(args, serving, kind)
  if args.only is not None:
    found = found[args.only : args.only + 1]
  found = [(name, make(), predicted) for name, make, predicted in found]
  scores = {
    name: accuracy(call, requests, labels, predicted)
    for name, call, predicted in found
    if labels
  }
  for round_index in range(args.rounds):
    for name, call, _ in found:
      result = measure(call, requests, args.calls, name)
      result["round"] = round_index + 1
      if name in scores:
        result["accuracy"] = scores[name]
      print(json.dumps(result), flush=True)


if __name__ == "__main__":
  main()
