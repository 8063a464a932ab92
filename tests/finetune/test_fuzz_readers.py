"""Every reader fed seeded random mutations of a valid file: each case ends
in success or in an error naming the file, never an uncaught error from
inside the standard library or TensorFlow, and never a hang.

The slow tier runs 200 cases per reader, the fast tier 5.
"""

import collections
import json
import random

import pytest

import configure_finetuning
from conftest import write_vocab
from finetune import conll
from finetune import qa_data
from finetune import readers
from finetune import task_builder
from model import bert_config
from model import tokenization
from pretrain import corpus_reader
from util import hparams as hparams_lib

# what a reader may raise on bad input (all name the file)
NAMED_ERRORS = (ValueError, OSError)

VALID = {
  "corpus": "第一篇文章的第一句。\n第二句话在这里。\n\n另一篇文档开始了。\n",
  "clue": "\n".join(
    json.dumps({"sentence": f"新闻标题{i}", "label": "100", "id": i},
               ensure_ascii=False) for i in range(4)
  ),  # fmt: skip
  "tsv": "review\tstars\n很好的东西\tgood\n太差了\tbad\n",
  "conll": "张 B-name\n三 I-name\n来 O\n\n北 B-address\n京 I-address\n",
  "squad": json.dumps({"data": [{"paragraphs": [{"context": "北京是首都。",
    "qas": [{"id": "q1", "question": "首都？", "answers": [
      {"text": "北京", "answer_start": 0}]}]}]}]}, ensure_ascii=False),
  "vocab": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n北\n京\n",
  "hparams": json.dumps({"task_names": ["tnews"], "learning_rate": 1e-4,
                         "max_examples": {"train": 10}}),
}  # fmt: skip


def mutate(data, rng):
  """One random damage: truncation, bit flips, invalid UTF-8, deletions,
  insertions of structure characters, an empty file, a huge field."""
  kind = rng.choice(
    ["truncate", "flip", "utf8", "delete", "insert", "empty", "huge", "dup"]
  )
  if kind == "truncate":
    return data[: rng.randrange(len(data) + 1)]
  if kind == "flip":
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
      data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)
  if kind == "utf8":
    i = rng.randrange(len(data) + 1)
    return data[:i] + b"\xff\xfe\xc3" + data[i:]
  if kind == "delete":
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 20) :]
  if kind == "insert":
    i = rng.randrange(len(data) + 1)
    return (
      data[:i]
      + rng.choice(
        [b"{", b"}", b"\t", b"\n", b'"', b"[", b"-1", b"null", b"\x00"]
      )
      + data[i:]
    )
  if kind == "empty":
    return b""
  if kind == "huge":
    i = rng.randrange(len(data) + 1)
    return data[:i] + "字".encode() * 200_000 + data[i:]
  return data + b"\n" + data


def tnews_config(root):
  return configure_finetuning.FinetuningConfig(
    "m", str(root), task_names=["tnews"]
  )


def read_corpus(path, root):
  return corpus_reader.read_lines(path)


def read_clue(path, root):
  task = task_builder.get_task(tnews_config(root), "tnews")
  return task.read_examples(path, True)


def read_tsv(path, root):
  return readers.read_rows(path, "tsv")


def read_conll(path, root):
  return conll.read_conll(path)


def read_squad(path, root):
  return qa_data.read_squad(path, "cmrc2018", True)


def read_vocab(path, root):
  vocab = tokenization.load_vocab(path)
  tokenization.check_special_tokens(vocab, path)
  return vocab


def read_hparams(path, root):
  return configure_finetuning.FinetuningConfig(
    "m", str(root), **hparams_lib.load_hparams(path)
  )


READERS = {
  "corpus": (read_corpus, ".txt"),
  "clue": (read_clue, ".json"),
  "tsv": (read_tsv, ".tsv"),
  "conll": (read_conll, ".txt"),
  "squad": (read_squad, ".json"),
  "vocab": (read_vocab, ".txt"),
  "hparams": (read_hparams, ".json"),
}


def read_case(name, data, path, tmp_path):
  """ "ok", "named error", or what went wrong with one mutated file."""
  read, _ = READERS[name]
  with open(path, "wb") as f:
    f.write(data)
  try:
    read(path, tmp_path)
    return "ok"
  except NAMED_ERRORS as e:
    message = str(e)
    # hparams errors name the hparam (the file is the --hparams given)
    named = path in message or (name == "hparams" and "hparam" in message)
    if not named or len(message) > 2000:
      return f"{type(e).__name__} without the file: {message[:300]}"
    return "named error"


def fuzz(name, cases, tmp_path):
  """{outcome: count} over ``cases`` seeded mutations of the valid file."""
  _, suffix = READERS[name]
  rng = random.Random(name)
  outcomes = collections.Counter()
  for case in range(cases):
    data = mutate(VALID[name].encode("utf-8"), rng)
    path = str(tmp_path / f"{name}{case}{suffix}")
    outcomes[read_case(name, data, path, tmp_path)] += 1
  print(f"{name}: {cases} cases: {dict(outcomes)}")
  return outcomes


@pytest.mark.parametrize("name", sorted(READERS))
def test_fuzz_fast(tmp_path, name):
  write_vocab(str(tmp_path / "vocab.txt"))
  valid = VALID[name].encode("utf-8")
  path = str(tmp_path / ("valid" + READERS[name][1]))
  assert read_case(name, valid, path, tmp_path) == "ok"
  assert set(fuzz(name, 5, tmp_path)) <= {"ok", "named error"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(READERS))
def test_fuzz_200_cases(tmp_path, name):
  outcomes = fuzz(name, 200, tmp_path)
  assert set(outcomes) <= {"ok", "named error"}, outcomes
  # the mutations reach the reader's checks, and some are harmless
  assert outcomes["named error"] > 0 and outcomes["ok"] > 0, outcomes


@pytest.mark.parametrize(
  "field, value, message",
  [
    ("vocab_size", 10**9, "vocab_size is 1000000000; expected 1 to"),
    ("hidden_size", -4, "hidden_size is -4"),
    ("num_hidden_layers", "12", "num_hidden_layers must be an integer"),
  ],
)
def test_absurd_sizes_are_named_errors(tmp_path, field, value, message):
  from interop import hf_config

  config = {"model_type": "electra", "vocab_size": 97, "embedding_size": 8,
            "hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
            "intermediate_size": 20, "max_position_embeddings": 16,
            "type_vocab_size": 2}  # fmt: skip
  (tmp_path / "config.json").write_text(
    json.dumps(dict(config, **{field: value}))
  )
  with pytest.raises(hf_config.HFConfigError, match=message) as error:
    hf_config.read_config(str(tmp_path))
  assert str(tmp_path / "config.json") in str(error.value)
  bert = {
    k: v for k, v in config.items() if k not in ("model_type", "embedding_size")
  }
  with pytest.raises(ValueError, match=message):
    bert_config.BertConfig.from_dict(dict(bert, **{field: value})).validate()


def test_deeply_nested_hparams_are_a_named_error(tmp_path):
  path = tmp_path / "deep.json"
  path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
  with pytest.raises(ValueError, match="deep.json: JSON nested too deeply"):
    hparams_lib.load_hparams(str(path))
