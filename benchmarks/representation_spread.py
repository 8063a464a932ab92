"""How distinct are an encoder's token representations? A collapse check.

For each ``--start`` (a checkpoint, or ``random``), encodes the first
``--count`` texts and prints the spread of the final-layer token vectors:
their mean distance from their mean over their mean norm (near 0: every
token looks the same; random initialisation gives about 0.8).

  python benchmarks/representation_spread.py --vocab-file vocab.txt \
    --texts dev.json --field sentence --hparams configs/electra_tiny_zh.json \
    --start random --start ours=models/x/model.ckpt-1000
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import configure_finetuning  # noqa: E402
from interop import loading  # noqa: E402
from model import model_sizes  # noqa: E402
from model import modeling  # noqa: E402
from model import tokenization  # noqa: E402
from util import hparams as hparams_lib  # noqa: E402


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--vocab-file", required=True)
  parser.add_argument("--texts", required=True, help="a JSON-lines file")
  parser.add_argument("--field", default="sentence")
  parser.add_argument("--hparams", action="append", required=True)
  parser.add_argument("--start", action="append", required=True)
  parser.add_argument("--count", type=int, default=64)
  parser.add_argument("--max-seq-length", type=int, default=48)
  return parser.parse_args(argv)


def encode_texts(args):
  """[count, L] input ids and mask of the first ``--count`` texts."""
  tokenizer = tokenization.FullTokenizer(args.vocab_file)
  with open(args.texts, encoding="utf-8") as f:
    lines = [line for line in f.read().split("\n") if line.strip()]
  texts = [json.loads(line)[args.field] for line in lines[: args.count]]
  ids = np.zeros([len(texts), args.max_seq_length], np.int32)
  for row, text in enumerate(texts):
    pieces = tokenizer.tokenize(text)[: args.max_seq_length - 2]
    tokens = ["[CLS]", *pieces, "[SEP]"]
    ids[row, : len(tokens)] = tokenizer.convert_tokens_to_ids(tokens)
  return ids, (ids > 0).astype(np.int32)


def spread(vectors):
  """Mean distance from the mean vector over the mean norm; [n, hidden]."""
  centred = vectors - vectors.mean(0)
  return float(
    np.linalg.norm(centred, axis=1).mean()
    / np.linalg.norm(vectors, axis=1).mean()
  )


def token_spread(config, checkpoint, ids, mask):
  tf.random.set_seed(0)
  encoder = modeling.BertModel(
    model_sizes.get_bert_config(config), "electra", config.embedding_size
  )
  if checkpoint:
    loading.init_from_checkpoint(
      modeling.variables_by_name(encoder), checkpoint
    )
  sequence = encoder(ids, mask, tf.zeros_like(ids), False).numpy()
  return spread(sequence[mask.astype(bool)])


def main(argv=None):
  args = parse_args(argv)
  hparams = hparams_lib.merge_hparams(args.hparams)
  config = configure_finetuning.FinetuningConfig("spread", "/tmp", **hparams)
  ids, mask = encode_texts(args)
  for start in args.start:
    name, _, checkpoint = start.partition("=")
    value = token_spread(config, checkpoint or None, ids, mask)
    print(f"{name}: token spread {value:.3f}")


if __name__ == "__main__":
  main()
