"""Prunes a checkpoint: its vocabulary to the tokens of some texts, its
attention heads and FFN neurons to those its task leans on most.

Usage:
  python prune_model.py \
      --checkpoint data/models/tiny_zh/finetuning_models/tnews_model_1 \
      --output data/models/tnews_pruned \
      --vocab-from data/finetuning_data/tnews/train.json \
                   data/finetuning_data/tnews/test.json \
      [--keep-top 6000] [--check held_out.json] [--fields sentence] \
      [--heads 6 --ffn-width 600 --data-dir data [--task tnews]]

--checkpoint may be ours (pretraining or fine-tuned, every task head
kept), an official TF1 one or a transformers directory. The --vocab-from
files may be in any format the readers take (CLUE JSON lines, CLUENER,
SQuAD-style JSON, C3) or plain text: every string field is read but ids,
labels and TNEWS keywords (--fields names the text fields instead). It
prints, for each file given (--vocab-from and --check), how many of its
tokens are not kept: none for the files it was built from; in other texts
such a token becomes [UNK] (a word of several pieces is re-split with the
pieces kept, or becomes [UNK] as a whole).

--heads and --ffn-width keep, in every layer, that many heads and FFN
neurons of a fine-tuned model, ranked by the gradient importance of its
task's loss on the training examples under --data-dir.

OUT gets a checkpoint whose tensors follow the new vocabulary and shape,
its vocab.txt, model.json, the tasks.json of a fine-tuned checkpoint and
pruning.json (what was kept); it loads wherever a checkpoint does
(run_finetuning.py's init_checkpoint and teacher_checkpoint,
run_pretraining.py, export_savedmodel.py, export_litert.py,
convert_checkpoint.py). The optimizer state is not carried. The input
checkpoint is only read. See docs/smaller_models.md.
"""

import argparse
import collections
import json
import os

import numpy as np

import configure_finetuning
import configure_pretraining
import convert_checkpoint
import export_litert
import export_savedmodel
from finetune import head_importance
from interop import sources
from interop import structure_pruning
from interop import vocab_pruning
from interop import writers
from model import choice_packing
from model import model_sizes
from model import tokenization
from util import cli
from util import logs

EMBEDDINGS = "electra/embeddings/word_embeddings"


def model_hparams(checkpoint, hparams, vocab_file):
  """The hparams that rebuild the checkpoint's model (recorded beside it,
  then ``hparams``), and its vocabulary file; clear errors for what is
  missing."""
  given = convert_checkpoint.shape_and_task_hparams(dict(hparams or {}))
  merged = convert_checkpoint.model_hparams(checkpoint, given, "Pruning")
  vocab_file = vocab_file or merged.get("vocab_file")
  if not vocab_file:
    raise ValueError(
      f"--vocab-file: {checkpoint} has no vocab.txt beside it; pass the "
      f"vocabulary it was trained with"
    )
  if vocab_file.endswith(".model"):
    raise ValueError(
      f"--vocab-file {vocab_file}: a SentencePiece model cannot be pruned "
      f"here (only WordPiece vocabularies)"
    )
  return merged, vocab_file


def tokenized_files(tokens_of, paths, fields, flag):
  """{path: [tokens of each text]} (``tokens_of``: a
  `vocab_pruning.TextTokens`); an error naming a file whose texts
  tokenize to nothing."""
  found = {}
  for path in paths:
    if not os.path.isfile(path):
      raise FileNotFoundError(f"{flag} {path} does not exist")
    token_lists = [
      tokens_of(text) for text in vocab_pruning.texts_of(path, fields)
    ]
    if not any(token_lists):
      raise ValueError(
        f"{flag} {path}: its texts tokenize to nothing (an empty file, or "
        f"no field of {fields or 'its rows'} holds text)"
      )
    found[path] = token_lists
  return found


def parameters(shapes, prefix="electra/"):
  return sum(int(np.prod(s)) for n, s in shapes.items() if n.startswith(prefix))


def write_pruned(tensors, tokens, output, checkpoint, hparams, what):
  """Writes the pruned checkpoint, its vocab.txt, records and
  pruning.json (``what``) as a new directory, whole or not at all."""

  def record(prefix):
    vocab_path = os.path.join(os.path.dirname(prefix), "vocab.txt")
    convert_checkpoint.record_conversion(
      checkpoint,
      prefix,
      dict(hparams, vocab_size=len(tokens), vocab_file=vocab_path),
      "prune_model.py",
      shown_as=output,
    )

  files = {
    "vocab.txt": "".join(token + "\n" for token in tokens),
    "pruning.json": json.dumps(what, indent=2, sort_keys=True) + "\n",
  }
  writers.write_new_directory(output, tensors, files, record)


def checked_vocabulary(source, checkpoint, vocab_file, keep_top):
  """The checkpoint's vocabulary {token: id}; clear errors for a file
  that is not the one its embeddings were trained with and a --keep-top
  outside it."""
  if EMBEDDINGS not in source.shapes:
    raise ValueError(f"--checkpoint {checkpoint} has no {EMBEDDINGS}")
  rows = source.shapes[EMBEDDINGS][0]
  vocab = tokenization.load_vocab(vocab_file)
  if len(vocab) > rows:
    raise ValueError(
      f"--vocab-file {vocab_file} has {len(vocab)} tokens but the "
      f"checkpoint's {EMBEDDINGS} has {rows} rows: not the vocabulary it "
      f"was trained with"
    )
  if keep_top is not None and not 0 < keep_top < len(vocab):
    raise ValueError(
      f"--keep-top {keep_top}: expected a number of tokens from 1 to "
      f"{len(vocab) - 1} (the vocabulary has {len(vocab)})"
    )
  return vocab


def pruned_vocabulary(tensors, vocab, built, keep_top):
  """(tensors, kept tokens) with the vocabulary of the texts ``built``
  ({file: token lists}): the rows of every vocabulary-indexed tensor
  follow the kept tokens' old ids."""
  rows = tensors[EMBEDDINGS].shape[0]
  always = tokenization.REQUIRED_SPECIAL_TOKENS + (choice_packing.OTHER_BLANK,)
  ids = vocab_pruning.kept_ids(
    vocab,
    vocab_pruning.token_counts(t for lists in built.values() for t in lists),
    [t for t in always if t in vocab],
    keep_top,
  )
  names = {i: t for t, i in vocab.items()}
  return vocab_pruning.gather_rows(tensors, ids, rows), [names[i] for i in ids]


def pruned_structure(tensors, config, merged, checkpoint, target, vocab_file):
  """(tensors, model_hparam_overrides, kept indices) with each layer cut
  to the ``target`` heads and FFN width its task's loss leans on most.

  Args:
    config: the `PretrainingConfig` of the checkpoint's model, built from
      ``merged``, its recorded and given hparams.
    target: {"heads", "ffn_width", "data_dir", "task", "examples"}.
  """
  bert = model_sizes.get_bert_config(config)
  heads = target["heads"] or bert.num_attention_heads
  width = target["ffn_width"] or bert.intermediate_size
  structure_pruning.check_target(heads, width, bert)
  if not target["data_dir"]:
    raise ValueError(
      "--heads and --ffn-width need --data-dir: the task's training data, "
      "laid out as for run_finetuning.py, whose loss ranks the heads"
    )
  present = {n.split("/")[1] for n in tensors if n.startswith("task_specific/")}
  task = export_savedmodel.choose_task(present, target["task"], checkpoint)
  if task is None:
    raise ValueError(
      f"--checkpoint {checkpoint} has no task head: --heads and --ffn-width "
      f"prune a fine-tuned model by its task's loss"
    )
  known = configure_finetuning.FinetuningConfig("x", "").to_dict()
  settings = {k: v for k, v in merged.items() if k in known}
  settings.update(export_litert.task_hparams({}, checkpoint))
  settings.update(
    task_names=[task], init_checkpoint=None, vocab_file=vocab_file
  )
  finetuning = configure_finetuning.FinetuningConfig(
    "prune", target["data_dir"], **settings
  )
  head_scores, neuron_scores = head_importance.importance(
    finetuning, checkpoint, task, target["examples"]
  )
  kept = {}
  for layer in range(bert.num_hidden_layers):
    kept[layer] = {
      "heads": structure_pruning.strongest(head_scores[layer], heads),
      "ffn": structure_pruning.strongest(neuron_scores[layer], width),
    }
    tensors = structure_pruning.prune_layer(
      tensors, layer, kept[layer]["heads"], kept[layer]["ffn"], bert.head_size
    )
  overrides = dict(
    config.model_hparam_overrides,
    num_attention_heads=heads,
    attention_head_size=bert.head_size,
    intermediate_size=width,
  )
  return tensors, overrides, kept


Pruned = collections.namedtuple(
  "Pruned", ["fallbacks", "parameters", "old_vocab", "new_vocab"]
)


def prune(
  checkpoint, output, vocab_from=(), keep_top=None, check=(), fields=None,
  hparams=None, vocab_file=None, structure=None,
):  # fmt: skip
  """Prunes the vocabulary to the texts of ``vocab_from`` and, with
  ``structure`` (see `pruned_structure`), the heads and FFN neurons.

  Returns:
    A `Pruned`: {file: (tokens, not kept, texts with one)} of every file
    given, the encoder's parameters before and after, and the sizes of
    the vocabulary before and after.
  """
  writers.check_new_directory(output)
  if not vocab_from and not structure:
    raise ValueError(
      "nothing to prune: give --vocab-from, or --heads / --ffn-width"
    )
  merged, vocab_file = model_hparams(checkpoint, hparams, vocab_file)
  config = configure_pretraining.PretrainingConfig("prune", "", **merged)
  source = sources.open_source(checkpoint, "--checkpoint")
  vocab = checked_vocabulary(source, checkpoint, vocab_file, keep_top)
  tokenizer = tokenization.FullTokenizer(vocab_file, config.do_lower_case)
  tokens_of = vocab_pruning.TextTokens(tokenizer.tokenize)
  built = tokenized_files(tokens_of, vocab_from, fields, "--vocab-from")
  checked = dict(built)
  checked.update(tokenized_files(tokens_of, check, fields, "--check"))
  tensors = {name: source.read(name) for name in source.shapes}
  what = {"source": checkpoint, "vocabulary": [len(vocab), len(vocab)]}
  if structure:
    tensors, overrides, kept = pruned_structure(
      tensors, config, merged, checkpoint, structure, vocab_file
    )
    merged = dict(merged, model_hparam_overrides=overrides)
    what["layers"] = kept
  tokens = list(vocab)  # in id order
  if vocab_from:
    tensors, tokens = pruned_vocabulary(tensors, vocab, built, keep_top)
    what["vocabulary"][1] = len(tokens)
  write_pruned(tensors, tokens, output, checkpoint, merged, what)
  kept_tokens = set(tokens)
  return Pruned(
    {
      path: vocab_pruning.dropped_counts(lists, kept_tokens)
      for path, lists in checked.items()
    },
    (
      parameters(source.shapes),
      parameters({n: list(v.shape) for n, v in tensors.items()}),
    ),
    len(vocab),
    len(tokens),
  )


def flags():
  """The command line's parser."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  cli.add_required(
    parser,
    {
      "--checkpoint": "Ours, official TF1 or a transformers directory.",
      "--output": "A new directory for the pruned checkpoint.",
    },
  )
  parser.add_argument(
    "--vocab-from",
    nargs="+",
    default=[],
    help="Data files (any reader's format, or plain text) whose tokens are "
    "kept.",
  )
  parser.add_argument(
    "--keep-top",
    type=int,
    default=None,
    help="Keep only the N most frequent tokens of those files (and the "
    "special tokens).",
  )
  parser.add_argument(
    "--check",
    nargs="+",
    default=[],
    help="More files to report on (tokens not kept), e.g. held-out texts.",
  )
  parser.add_argument(
    "--fields",
    nargs="+",
    default=None,
    help="The JSON fields holding text (default: every field but ids, "
    "labels and keywords).",
  )
  add_structure_flags(parser)
  cli.add_hparams_flag(parser, "Pretraining hparams of the model's shape")
  parser.add_argument("--vocab-file", default=None)
  return parser


def add_structure_flags(parser):
  """The flags of head and FFN pruning."""
  parser.add_argument(
    "--heads",
    type=int,
    default=None,
    help="Attention heads kept per layer, the most important for the task.",
  )
  parser.add_argument(
    "--ffn-width",
    type=int,
    default=None,
    help="FFN neurons kept per layer, the most important for the task.",
  )
  parser.add_argument(
    "--data-dir",
    default=None,
    help="With --heads/--ffn-width: the data dir of run_finetuning.py "
    "whose training examples rank the heads and neurons.",
  )
  parser.add_argument("--task", default=None, help="The task head to rank by.")
  parser.add_argument(
    "--importance-examples",
    type=int,
    default=2048,
    help="Training examples the importance is summed over.",
  )


def main(argv=None):
  args = flags().parse_args(argv)
  structure = None
  if args.heads is not None or args.ffn_width is not None:
    structure = {
      "heads": args.heads,
      "ffn_width": args.ffn_width,
      "data_dir": args.data_dir,
      "task": args.task,
      "examples": args.importance_examples,
    }
  pruned = prune(
    args.checkpoint,
    args.output,
    args.vocab_from,
    args.keep_top,
    args.check,
    args.fields,
    cli.merged_hparams(args),
    args.vocab_file,
    structure,
  )
  for path, (total, dropped, texts) in pruned.fallbacks.items():
    logs.log(
      f"{path}: {dropped} of {total} tokens not kept ({texts} texts with "
      f"one; they become [UNK])"
    )
  before, after = pruned.parameters
  logs.log(
    f"Wrote {args.output}: vocabulary {pruned.old_vocab} -> "
    f"{pruned.new_vocab} tokens, encoder parameters {before:,} -> "
    f"{after:,} ({1 - after / before:.0%} fewer)"
  )
  return pruned


if __name__ == "__main__":
  cli.run(main)
