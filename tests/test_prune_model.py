"""prune_model.py: a checkpoint with the vocabulary of some texts computes
what the full one computes on them; bad input is refused, nothing lost."""

import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_ENCODER_HPARAMS
from helpers import DEMO_FINETUNE_RUN
from helpers import DEMO_TINY_HPARAMS
from helpers import DEMO_VOCAB
from helpers import demo_sentences
from helpers import load
from helpers import randomize
from helpers import write_jsonl
from helpers import write_model

import build_pretraining_dataset
import configure_finetuning
import convert_checkpoint
import export_litert
import export_savedmodel
import prune_model
import run_pretraining
from conftest import ROOT
from conftest import finetune_main
from finetune import finetuning_model
from finetune import head_specs
from finetune import task_builder
from interop import checkpoints
from interop import litert_serving
from interop import model_record
from interop import writers
from model import tokenization

TEXTS = demo_sentences()[:40]
FINETUNE = dict(
  DEMO_FINETUNE_RUN,
  task_names=["mixed"],
  custom_tasks={
    "mixed": {"text_a": "text", "label": "label", "labels": ["p", "q"]}
  },
  max_seq_length=24,
  train_batch_size=8,
)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
  root = tmp_path_factory.mktemp("prune")
  texts = root / "texts.txt"
  texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
  return root, str(texts)


def forward(model, ids):
  """Discriminator logits [1, L] and generator logits [1, L, vocab]."""
  ids = tf.constant([ids], tf.int32)
  args = (ids, tf.ones_like(ids), tf.zeros_like(ids))
  disc = model.discriminator_head(model.electra(*args, False))
  gen = model.generator_head(
    model.generator(*args, False), model.generator.embedding_table
  )
  return disc.numpy(), gen.numpy()


def digest(directory):
  found = hashlib.sha256()
  for name in sorted(os.listdir(directory)):
    with open(os.path.join(directory, name), "rb") as f:
      found.update(name.encode() + f.read())
  return found.hexdigest()


@pytest.mark.parametrize("untied", [False, True])
def test_the_pruned_model_computes_what_the_full_one_does(source, untied):
  root, texts = source
  full_dir = str(root / f"full_{untied}")
  full = write_model(full_dir, untied_generator_embeddings=untied)
  before = digest(full_dir)
  out = str(root / f"pruned_{untied}")
  report, (params, pruned_params), old, new = prune_model.prune(
    full_dir, out, [texts]
  )
  assert digest(full_dir) == before  # the input is only read
  assert report[texts][1:] == (0, 0)  # every token of the texts kept
  assert old == 2244 and new < old and pruned_params < params
  assert model_record.read(out)[1]["shape"]["vocab_size"] == new
  pruned, loaded = load(out)
  assert not loaded.missing
  full_tokens = tokenization.FullTokenizer(DEMO_VOCAB)
  pruned_tokens = tokenization.FullTokenizer(os.path.join(out, "vocab.txt"))
  new_to_old = [full_tokens.vocab[t] for t in pruned_tokens.vocab]
  for text in TEXTS[:3]:
    pieces = ["[CLS]"] + full_tokens.tokenize(text)[:20] + ["[SEP]"]
    assert pruned_tokens.tokenize(text)[:20] == pieces[1:-1]
    full_disc, full_gen = forward(
      full, full_tokens.convert_tokens_to_ids(pieces)
    )
    disc, gen = forward(pruned, pruned_tokens.convert_tokens_to_ids(pieces))
    np.testing.assert_allclose(disc, full_disc, atol=1e-5)
    # the generator scores only the kept tokens, as the full one did
    assert gen.shape[-1] == new
    np.testing.assert_allclose(gen, full_gen[..., new_to_old], atol=1e-4)


@pytest.fixture(scope="module")
def pruned_ours(source):
  """(our full checkpoint, it pruned to the texts)."""
  root, texts = source
  ours = str(root / "ours")
  write_model(ours)
  prune_model.prune(ours, str(root / "ours_pruned"), [texts])
  return ours, str(root / "ours_pruned")


def assert_same_tensors(got_dir, want_dir, prefix="model/"):
  """Every tensor of ``want_dir`` whose key starts with ``prefix`` is in
  ``got_dir`` with the same value; the same vocabularies."""
  got = tf.train.load_checkpoint(got_dir)
  want = tf.train.load_checkpoint(want_dir)
  names = [n for n in want.get_variable_to_shape_map() if n.startswith(prefix)]
  assert names and set(names) <= set(got.get_variable_to_shape_map())
  for name in names:
    np.testing.assert_allclose(
      got.get_tensor(name), want.get_tensor(name), atol=1e-6
    )
  with open(os.path.join(got_dir, "vocab.txt"), "rb") as a:
    with open(os.path.join(want_dir, "vocab.txt"), "rb") as b:
      assert a.read() == b.read()


def test_official_tf1_input_prunes_as_ours(source, pruned_ours):
  root, texts = source
  tf1 = str(root / "tf1" / "model.ckpt-7")
  writers.write_tf1_checkpoint(pruned_ours[0], tf1)
  out = str(root / "from_tf1")
  prune_model.prune(
    tf1, out, [texts], hparams=DEMO_TINY_HPARAMS, vocab_file=DEMO_VOCAB
  )
  assert_same_tensors(out, pruned_ours[1])
  assert_same_tensors(pruned_ours[1], out)


def test_a_transformers_discriminator_prunes_as_ours(source, pruned_ours):
  root, texts = source
  hf = str(root / "hf")
  convert_checkpoint.convert(pruned_ours[0], hf, "hf")
  out = str(root / "from_hf")
  prune_model.prune(os.path.join(hf, "discriminator"), out, [texts])
  assert_same_tensors(out, pruned_ours[1], prefix="model/electra")


def test_bad_input_is_refused_and_nothing_is_written(source):
  root, texts = source
  ours = str(root / "bad_input_model")
  write_model(ours)
  before = digest(ours)
  empty = root / "empty.json"
  empty.write_text('{"label": "1", "id": 3}\n\n', encoding="utf-8")
  bigger = root / "bigger_vocab.txt"
  with open(DEMO_VOCAB, encoding="utf-8") as f:
    bigger.write_text(f.read() + "多余\n", encoding="utf-8")
  existing = root / "existing"
  existing.mkdir()
  out = str(root / "never_written")
  cases = [
    ((ours, str(existing), [texts]), {}, FileExistsError, "exists"),
    ((ours, out, [str(empty)]), {}, ValueError, "empty.json"),
    ((ours, out, [str(root / "missing.txt")]), {}, OSError, "missing.txt"),
    ((ours, out, [texts]), {"keep_top": 2244}, ValueError, "--keep-top"),
    (
      (ours, out, [texts]),
      {"vocab_file": str(bigger)},
      ValueError,
      "bigger_vocab.txt has 2245 tokens",
    ),
  ]
  for args, kwargs, error, message in cases:
    with pytest.raises(error, match=message):
      prune_model.prune(*args, **kwargs)
  assert not os.path.exists(out) and os.listdir(existing) == []
  assert not [n for n in os.listdir(root) if n.startswith(".writing-")]
  assert digest(ours) == before


def test_keep_top_reports_what_falls_back(source, capsys):
  root, texts = source
  ours = str(root / "keep_top_model")
  write_model(ours)
  out = str(root / "top")
  prune_model.main(
    ["--checkpoint", ours, "--output", out, "--vocab-from", texts,
     "--keep-top", "50"]
  )  # fmt: skip
  with open(os.path.join(out, "vocab.txt"), encoding="utf-8") as f:
    kept = f.read().split("\n")[:-1]
  always = [
    t
    for t in tokenization.REQUIRED_SPECIAL_TOKENS + ("_",)  # cloze blanks
    if t in tokenization.load_vocab(DEMO_VOCAB)
  ]
  assert len(kept) == 50 + len(always) and kept[: len(always)] == always
  printed = capsys.readouterr().out
  assert f"{texts}: " in printed and "tokens not kept" in printed
  assert f"vocabulary 2244 -> {len(kept)} tokens" in printed


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
  """A classifier fine-tuned on demo sentences, and its data files."""
  root = tmp_path_factory.mktemp("finetuned")
  lines = demo_sentences()
  for split, rows in (("train", lines[:24]), ("dev", lines[24:40])):
    write_jsonl(
      str(root / "finetuning_data" / "mixed" / f"{split}.json"),
      [{"text": line, "label": "pq"[i % 2]} for i, line in enumerate(rows)],
    )
  finetune_main(root, FINETUNE)
  checkpoint = str(
    root / "models" / "m" / "finetuning_models" / "mixed_model_1"
  )
  return root, checkpoint


@pytest.mark.slow
def test_a_pruned_classifier_serves_the_same_probabilities(finetuned, tmp_path):
  root, checkpoint = finetuned
  data = root / "finetuning_data" / "mixed"
  pruned = str(tmp_path / "pruned")
  # half the dev texts are kept whole
  kept_dev = tmp_path / "kept_dev.txt"
  kept_dev.write_text("\n".join(demo_sentences()[24:32]), encoding="utf-8")
  prune_model.prune(
    checkpoint, pruned, [str(data / "train.json"), str(kept_dev)]
  )
  served = {}
  for name, path in (("full", checkpoint), ("pruned", pruned)):
    out = str(tmp_path / f"saved_{name}")
    export_savedmodel.export_savedmodel({}, path, out)
    served[name] = tf.saved_model.load(out).signatures["serving_default"]
  # dev texts: those whose tokens were all kept, and the others
  full_tokens = tokenization.FullTokenizer(DEMO_VOCAB)
  with open(os.path.join(pruned, "vocab.txt"), encoding="utf-8") as f:
    kept = set(f.read().split("\n"))
  dev = demo_sentences()[24:40]
  whole = [t for t in dev if set(full_tokens.tokenize(t)) <= kept]
  partial = [t for t in dev if t not in whole]
  assert whole and partial
  full, small = (served[n](text=tf.constant(whole)) for n in ("full", "pruned"))
  np.testing.assert_allclose(
    small["probabilities"], full["probabilities"], atol=1e-6
  )
  assert small["label"].numpy().tolist() == full["label"].numpy().tolist()
  # texts with a dropped token are served (their tokens become [UNK])
  assert served["pruned"](text=tf.constant(partial))["label"].shape == [
    len(partial)
  ]
  with pytest.raises(ValueError, match="not the vocabulary it was trained"):
    export_savedmodel.export_savedmodel(
      {}, pruned, str(tmp_path / "wrong_vocab"), vocab_file=DEMO_VOCAB
    )
  hf = str(tmp_path / "hf")
  convert_checkpoint.convert(pruned, hf, "hf")
  with open(os.path.join(hf, "mixed", "config.json")) as f:
    assert json.load(f)["vocab_size"] == len(kept) - 1  # the final newline


@pytest.mark.slow
def test_a_pruned_pretraining_checkpoint_continues_pretraining(source):
  root, texts = source
  corpus = os.path.join(ROOT, "demo", "corpus")
  full = str(root / "to_continue")
  write_model(full)
  pruned = str(root / "continued" / "pruned")
  files = [os.path.join(corpus, name) for name in sorted(os.listdir(corpus))]
  _, _, _, size = prune_model.prune(full, pruned, files)
  data_dir = root / "continued"
  build_pretraining_dataset.main(
    ["--corpus-dir", corpus, "--vocab-file",
     os.path.join(pruned, "vocab.txt"), "--output-dir",
     str(data_dir / "pretrain_tfrecords"), "--max-seq-length", "32"]
  )  # fmt: skip
  run_pretraining.main(
    ["--data-dir", str(data_dir), "--model-name", "more", "--hparams",
     json.dumps({"init_checkpoint": pruned, "max_seq_length": 32,
                 "train_batch_size": 4, "num_train_steps": 3,
                 "num_warmup_steps": 0, "save_checkpoints_steps": 3})]
  )  # fmt: skip
  model_dir = str(data_dir / "models" / "more")
  record = model_record.read(model_dir)[1]
  assert record["shape"]["vocab_size"] == size
  reader = tf.train.load_checkpoint(model_dir)
  shapes = reader.get_variable_to_shape_map()
  bias = [k for k in shapes if "generator_predictions.Soutput_bias" in k]
  # the generator scores, so samples, only the kept tokens
  assert [shapes[k] for k in bias if k.startswith("model/")] == [[size]]


@pytest.mark.slow
def test_heads_and_ffn_pruned_then_distilled_from_the_full_model(finetuned):
  root, checkpoint = finetuned
  structure = {
    "heads": 2, "ffn_width": 30, "data_dir": str(root), "task": None,
    "examples": 16,
  }  # fmt: skip
  with pytest.raises(ValueError, match="--heads 4: expected 1 to 3"):
    prune_model.prune(
      checkpoint, str(root / "too_big"), structure=dict(structure, heads=4)
    )
  assert not os.path.exists(root / "too_big")
  pruned = str(root / "half")
  result = prune_model.prune(checkpoint, pruned, structure=structure)
  assert result.parameters[1] < result.parameters[0]
  shape = model_record.read(pruned)[1]["shape"]
  assert (shape["num_attention_heads"], shape["intermediate_size"]) == (2, 30)
  with open(os.path.join(pruned, "pruning.json")) as f:
    layers = json.load(f)["layers"]
  assert [len(layers[str(i)]["heads"]) for i in range(2)] == [2, 2]
  saved = str(root / "half_saved")
  export_savedmodel.export_savedmodel({}, pruned, saved)
  serve = tf.saved_model.load(saved).signatures["serving_default"]
  assert serve(text=tf.constant(TEXTS[:3]))["probabilities"].shape == [3, 2]
  lite = str(root / "half.tflite")
  export_litert.export_litert({}, pruned, lite)
  probabilities = litert_serving.LiteRunner(lite)(text=TEXTS[:3])
  np.testing.assert_allclose(
    probabilities["probabilities"],
    serve(text=tf.constant(TEXTS[:3]))["probabilities"],
    atol=1e-5,
  )
  with pytest.raises(ValueError, match="transformers' ELECTRA makes its heads"):
    convert_checkpoint.convert(pruned, str(root / "half_hf"), "hf")
  # the shape and vocabulary are the pruned checkpoint's own (its record)
  recorded = ("model_size", "model_hparam_overrides", "embedding_size",
              "vocab_size", "vocab_file")  # fmt: skip
  distill = {k: v for k, v in FINETUNE.items() if k not in recorded}
  distill.update(
    init_checkpoint=pruned, teacher_checkpoint=checkpoint,
    num_train_epochs=1.0,
    distillation={"temperature": 2.0, "hard_label_weight": 1.0},
  )  # fmt: skip
  results = finetune_main(root, distill, model_name="half_distilled")[0]
  assert "mixed" in results
  # a teacher of another vocabulary is refused before any step
  vocab_pruned = str(root / "vocab_pruned")
  data = root / "finetuning_data" / "mixed"
  prune_model.prune(checkpoint, vocab_pruned, [str(data / "train.json")])
  with pytest.raises(ValueError, match="another vocabulary"):
    finetune_main(
      root, dict(distill, init_checkpoint=vocab_pruned), model_name="bad"
    )


@pytest.mark.slow
def test_a_pruned_tagger_finds_the_same_entities(tmp_path):
  """Taggers tokenize each character alone: those tokens are kept too."""
  config = configure_finetuning.FinetuningConfig(
    "m", str(tmp_path), task_names=["cluener"], init_checkpoint=None,
    max_seq_length=32, vocab_file=DEMO_VOCAB, **DEMO_ENCODER_HPARAMS,
  )  # fmt: skip
  tasks = task_builder.get_tasks(config)
  model = finetuning_model.FinetuningModel(config, tasks)
  randomize(model.official_variables(), seed=4)  # random tags: many entities
  full = str(tmp_path / "full")
  path = checkpoints.make_checkpoint(model.official_variables()).write(
    os.path.join(full, "model.ckpt")
  )
  checkpoints.write_state_file(full, os.path.basename(path))
  head_specs.write_descriptions(full, tasks)
  model_record.write(full, config, "test")
  texts = ["我在北京大学读书，老师是张三。", "iPhone 和 Apple Watch 42 个"]
  source = tmp_path / "texts.txt"
  source.write_text("\n".join(texts), encoding="utf-8")
  pruned = str(tmp_path / "pruned")
  prune_model.prune(full, pruned, [str(source)])
  entities = []
  for name, directory in (("full", full), ("pruned", pruned)):
    out = str(tmp_path / f"saved_{name}")
    export_savedmodel.export_savedmodel({}, directory, out)
    serve = tf.saved_model.load(out).signatures["serving_default"]
    found = serve(text=tf.constant(texts))
    entities.append({k: v.numpy().tolist() for k, v in found.items()})
  assert entities[0]["entity_start"] != [[-1], [-1]]  # something was found
  assert entities[1] == entities[0]
