"""Tokenization and dataset-building throughput (tokens per second).

Usage:
  python benchmarks/tokenize_throughput.py \
      --corpus ../shared/data/corpus/zhwiki_sample.txt \
      --vocab ../shared/data/vocab/bert-base-chinese-vocab.txt [--repeats 3]
Prints one JSON line: tokens/s of the pure-Python and the tensorflow-text
tokenizers (median of --repeats, after a warm-up), their ratio, and the
tokens/s of build_pretraining_dataset with 1 and 2 processes (start-up
included).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from model import fast_tokenization  # noqa: E402
from model import tokenization  # noqa: E402
from pretrain import dataset_builder  # noqa: E402


def median_rate(fn, num_tokens, repeats):
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return num_tokens / statistics.median(times)


def build_rate(corpus, vocab, processes, copies):
  tmp = tempfile.mkdtemp()
  try:
    corpus_dir = os.path.join(tmp, "corpus")
    os.makedirs(corpus_dir)
    # one file per process so that both processes have work
    with open(corpus, encoding="utf-8") as f:
      docs = f.read().split("\n\n") * copies
    for i in range(processes):
      with open(
        os.path.join(corpus_dir, f"part{i}.txt"), "w", encoding="utf-8"
      ) as f:
        f.write("\n\n".join(docs[i::processes]))
    start = time.perf_counter()
    manifest = dataset_builder.build(
      dataset_builder.BuildOptions(
        corpus_dir=corpus_dir,
        vocab_file=vocab,
        output_dir=os.path.join(tmp, "out"),
        num_processes=processes,
      )
    )
    return manifest["tokens"] / (time.perf_counter() - start)
  finally:
    shutil.rmtree(tmp)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--corpus", required=True)
  parser.add_argument("--vocab", required=True)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument(
    "--build-copies",
    type=int,
    default=4,
    help="Build from this many copies of the corpus, so "
    "that process start-up (importing TensorFlow) "
    "does not dominate.",
  )
  args = parser.parse_args()
  with open(args.corpus, encoding="utf-8") as f:
    lines = [line for line in f.read().split("\n") if line.strip()]
  python = tokenization.FullTokenizer(args.vocab)
  fast = fast_tokenization.FastTokenizer(args.vocab)
  num_tokens = sum(map(len, python.tokenize_to_ids(lines)))
  fast.tokenize_to_ids(lines[:100])  # trace once

  def fast_run():
    for begin in range(0, len(lines), dataset_builder.TOKENIZE_BATCH):
      fast.tokenize_to_ids(
        lines[begin : begin + dataset_builder.TOKENIZE_BATCH]
      )

  python_rate = median_rate(
    lambda: python.tokenize_to_ids(lines), num_tokens, args.repeats
  )
  fast_rate = median_rate(fast_run, num_tokens, args.repeats)
  print(
    json.dumps(
      {
        "lines": len(lines),
        "tokens": num_tokens,
        "python_tokens_per_s": round(python_rate),
        "tf_text_tokens_per_s": round(fast_rate),
        "tf_text_over_python": round(fast_rate / python_rate, 2),
        "build_copies": args.build_copies,
        "build_1_process_tokens_per_s": round(
          build_rate(args.corpus, args.vocab, 1, args.build_copies)
        ),
        "build_2_processes_tokens_per_s": round(
          build_rate(args.corpus, args.vocab, 2, args.build_copies)
        ),
      }
    )
  )


if __name__ == "__main__":
  main()
