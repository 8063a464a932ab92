"""The peer of finetune_throughput.py: transformers on PyTorch, same work.

Not part of the toolkit's dependencies: run it where `pip install torch
transformers` is done:
  python benchmarks/hf_peer_finetune.py --task tnews --data-dir D \
      --batch 32 --seq 128 [--train-examples 3200] [--dev-examples 500]

ElectraForSequenceClassification of CLUE-tiny's shape from random
initialisation, the first N rows of D/finetuning_data/<task>/{train,dev}.json
tokenized by BertTokenizerFast with D/vocab.txt, AdamW (lr 1e-4, weight
decay 0.01, 10% linear warm-up), one epoch of shuffled batches padded per
batch as transformers' DataCollatorWithPadding does, then dev prediction.
Prints one JSON line with the same fields as finetune_throughput.py.
"""

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_args  # noqa: E402
from transformers import BertTokenizerFast  # noqa: E402
from transformers import DataCollatorWithPadding  # noqa: E402
from transformers import ElectraConfig  # noqa: E402
from transformers import ElectraForSequenceClassification  # noqa: E402
from transformers import get_linear_schedule_with_warmup  # noqa: E402

# the phases of a run as a user sees it (the second dev pass only times the
# steady rate)
PHASES = ("import_s", "preprocess_s", "build_s", "train_s", "first_eval_s")
TEXT_FIELDS = (("sentence",), ("sentence1", "sentence2"))


def read_rows(path, limit):
  rows = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        rows.append(json.loads(line))
      if len(rows) == limit:
        break
  return rows


def encode(tokenizer, rows, labels, seq):
  fields = next(f for f in TEXT_FIELDS if f[0] in rows[0])
  texts = [[row[name] for name in fields] for row in rows]
  encoded = tokenizer(*zip(*texts), truncation=True, max_length=seq)
  return [
    {key: encoded[key][i] for key in encoded} | {"labels": labels[row["label"]]}
    for i, row in enumerate(rows)
  ]


def build(num_labels, vocab_size):
  config = ElectraConfig(
    vocab_size=vocab_size, embedding_size=312, hidden_size=312,
    num_hidden_layers=4, num_attention_heads=12, intermediate_size=1200,
    num_labels=num_labels,
  )  # fmt: skip
  return ElectraForSequenceClassification(config)


def train(model, loader, steps, figures):
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
  schedule = get_linear_schedule_with_warmup(optimizer, steps // 10, steps)
  model.train()
  clock = time.perf_counter()
  for step, batch in enumerate(loader, 1):
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    if step == 10:
      figures["first_train_call_s"] = time.perf_counter() - clock
      steady = time.perf_counter()
  figures["train_s"] = time.perf_counter() - clock
  rate = (steps - 10) / (time.perf_counter() - steady)
  figures["train_steps_per_s"] = rate
  figures["train_examples_per_s"] = rate * loader.batch_size


def predict(model, loader):
  model.eval()
  correct = total = 0
  with torch.no_grad():
    for batch in loader:
      logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
      correct += int((logits.argmax(-1) == batch["labels"]).sum())
      total += len(batch["labels"])
  return 100.0 * correct / total


def loaders(args):
  """(train loader, dev loader, label count, vocab size) of the task."""
  task_dir = os.path.join(args.data_dir, "finetuning_data", args.task)
  tokenizer = BertTokenizerFast(os.path.join(args.data_dir, "vocab.txt"))
  train_rows = read_rows(
    os.path.join(task_dir, "train.json"), args.train_examples
  )
  dev_rows = read_rows(os.path.join(task_dir, "dev.json"), args.dev_examples)
  labels = {
    label: i for i, label in enumerate(sorted({r["label"] for r in train_rows}))
  }
  train_set = encode(tokenizer, train_rows, labels, args.seq)
  dev_set = encode(
    tokenizer, [r for r in dev_rows if r["label"] in labels], labels, args.seq
  )
  collate = DataCollatorWithPadding(tokenizer)
  train_loader = torch.utils.data.DataLoader(
    train_set, args.batch, shuffle=True, collate_fn=collate, drop_last=True
  )
  dev_loader = torch.utils.data.DataLoader(
    dev_set, args.batch, collate_fn=collate
  )
  return train_loader, dev_loader, len(labels), len(tokenizer.vocab)


def main():
  parser = finetune_args.add_workload_flags(
    argparse.ArgumentParser(description=__doc__.splitlines()[0])
  )
  args = parser.parse_args()
  figures = {"import_s": time.perf_counter() - START}
  torch.manual_seed(0)
  clock = time.perf_counter()
  train_loader, dev_loader, num_labels, vocab_size = loaders(args)
  figures["preprocess_s"], clock = (
    time.perf_counter() - clock,
    time.perf_counter(),
  )
  model = build(num_labels, vocab_size)
  figures["build_s"] = time.perf_counter() - clock
  steps = len(train_loader)
  train(model, train_loader, steps, figures)
  clock = time.perf_counter()
  accuracy = predict(model, dev_loader)
  figures["first_eval_s"], clock = (
    time.perf_counter() - clock,
    time.perf_counter(),
  )
  predict(model, dev_loader)
  n_dev = len(dev_loader.dataset)
  figures["eval_examples_per_s"] = n_dev / (time.perf_counter() - clock)
  real = total = 0
  for batch in train_loader:
    real += int(batch["attention_mask"].sum())
    total += batch["attention_mask"].numel()
  figures["total_s"] = sum(figures[k] for k in PHASES)
  figures.update(
    train_steps=steps, dev_examples=n_dev,
    dev_results={args.task: {"accuracy": accuracy}},
    padding_fraction=1.0 - real / total,
    task=args.task, batch=args.batch, seq=args.seq,
    threads=torch.get_num_threads(), torch=torch.__version__,
  )  # fmt: skip
  print(
    json.dumps(
      {
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in figures.items()
      }
    )
  )


if __name__ == "__main__":
  main()
