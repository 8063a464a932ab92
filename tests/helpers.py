"""Helpers shared by test modules of several packages: tiny models and
their transformers directories, data files written from the demo corpus,
and the one MirroredStrategy of a process. (Fixtures are in conftest.py;
hand-made batches and vocabularies too.)"""

import functools
import json
import os
import shutil

import numpy as np
import tensorflow as tf
from torch_files import write_torch_zip

import configure_finetuning
import configure_pretraining
from conftest import ROOT
from conftest import TINY_HPARAMS
from conftest import tiny_batch
from finetune import finetuning_model
from finetune import task_builder
from finetune import trial as trial_lib
from interop import checkpoints
from interop import hf_config
from interop import loading
from interop import model_record
from interop import weight_files
from pretrain import pretraining_model

DEMO_VOCAB = os.path.join(ROOT, "demo", "vocab.txt")


SHAPE = {
  k: TINY_HPARAMS[k] for k in hf_config.SHAPE_HPARAMS if k in TINY_HPARAMS
}


ENCODER_SHAPE = {k: v for k, v in SHAPE.items() if "generator" not in k}


RUN = {"max_seq_length": 17}


POSITIONS = np.array([[1, 2, 4]] * 5, np.int32)


def randomize(variables, seed):
  """Every variable random (LayerNorm gammas near 1), so that a swapped,
  untransposed or zero-initialised tensor shows in the logits."""
  rng = np.random.default_rng(seed)
  for name, var in sorted(variables.items()):
    noise = rng.normal(0, 0.1, var.shape.as_list()).astype(np.float32)
    var.assign(noise + (1.0 if name.endswith("gamma") else 0.0))


def build(**hparams):
  config = configure_pretraining.PretrainingConfig(
    "hf", "/nonexistent", **dict(RUN, **hparams)
  )
  return pretraining_model.PretrainingModel(config)


def outputs(model):
  """Discriminator logits [5, 17] and generator logits [5, 3, vocab]."""
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  args = (batch["input_ids"], batch["input_mask"], batch["segment_ids"])
  disc = model.discriminator_head(model.electra(*args, False))
  sequence = tf.gather(model.generator(*args, False), POSITIONS, batch_dims=1)
  gen = model.generator_head(sequence, model.generator.embedding_table)
  return disc.numpy(), gen.numpy()


def load(spec, **hparams):
  """A model built from the hparams a spec implies, and its load report."""
  model = build(init_checkpoint=spec, **hparams)
  report = loading.init_from_checkpoint(model.official_variables(), spec)
  return model, report


def keras_name(torch_name, array):
  """transformers' TF name and layout of a PyTorch weight."""
  parts = torch_name.split(".")
  if "layer" in parts:  # layer.3 -> layer_._3
    index = parts.index("layer")
    parts[index : index + 2] = [f"layer_._{parts[index + 1]}"]
  if parts[-2] == "LayerNorm":
    parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
  elif parts[-2] in ("position_embeddings", "token_type_embeddings"):
    parts[-1] = "embeddings"
  elif parts[-1] == "weight" and "word_embeddings" not in parts:
    return "/".join(parts[:-1] + ["kernel"]), array.T
  return "/".join(parts), array


def rewrite_weights(source_dir, target_dir, fmt):
  """Copies a transformers directory with its weights in another format."""
  shutil.copytree(source_dir, target_dir)
  os.remove(os.path.join(target_dir, "model.safetensors"))
  state = {
    n: a
    for n, (a, _) in weight_files.read_safetensors(
      os.path.join(source_dir, "model.safetensors")
    ).items()
  }
  if fmt == "bin":
    write_torch_zip(os.path.join(target_dir, "pytorch_model.bin"), state)
  elif fmt == "h5":
    keras = dict(keras_name(n, a) for n, a in state.items())
    write_keras_h5(os.path.join(target_dir, "tf_model.h5"), keras)
  else:  # two safetensors shards and their index
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2]}
    shards["model-00002-of-00002.safetensors"] = names[1::2]
    weight_map = {}
    for shard, members in shards.items():
      weight_files.write_safetensors(
        {n: state[n] for n in members}, os.path.join(target_dir, shard)
      )
      weight_map.update({n: shard for n in members})
    with open(
      os.path.join(target_dir, "model.safetensors.index.json"), "w"
    ) as f:
      json.dump({"weight_map": weight_map}, f)


def finetuned_checkpoint(trained, directory, tasks):
  """Our fine-tuning checkpoint: the trained encoder plus random heads."""
  config = configure_finetuning.FinetuningConfig(
    "m", "/nonexistent", task_names=tasks, init_checkpoint=trained[1],
    **dict(ENCODER_SHAPE, max_seq_length=17),
  )  # fmt: skip
  model = finetuning_model.FinetuningModel(
    config, task_builder.get_tasks(config)
  )
  trial_lib.init_encoder(config, model)
  heads = {
    n: v for n, v in model.official_variables().items() if "task_specific" in n
  }
  randomize(heads, seed=5)
  checkpoints.make_checkpoint(model.official_variables()).write(
    os.path.join(directory, "ckpt")
  )
  return model, os.path.join(directory, "ckpt")


def write_keras_h5(path, tensors, model_name="tf_electra_for_pre_training"):
  """A Keras ``save_weights`` h5 as transformers wrote tf_model.h5."""
  import h5py

  layers = sorted({name.split("/")[0] for name in tensors})
  with h5py.File(path, "w") as h5:
    h5.attrs["layer_names"] = [n.encode() for n in layers]
    for layer in layers:
      group = h5.create_group(layer)
      names = [
        f"{model_name}/{n}:0" for n in tensors if n.split("/")[0] == layer
      ]
      group.attrs["weight_names"] = [n.encode() for n in names]
      for name in names:
        group.create_dataset(name, data=tensors[name[len(model_name) + 1 : -2]])
  return path


def write_cluener(root, sizes=(("train", 40), ("dev", 12), ("test", 6))):
  with open(
    os.path.join(ROOT, "demo", "corpus", "travel_work.txt"), encoding="utf-8"
  ) as f:
    sentences = [line for line in f.read().split("\n") if len(line) > 8]
  for split, size in sizes:
    path = os.path.join(root, "finetuning_data", "cluener", split + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
      for i in range(size):
        text = sentences[i % len(sentences)]
        row = (
          {"text": text}
          if split == "test"
          else {"text": text, "label": {"scene": {text[2:5]: [[2, 4]]}}}
        )
        if split == "test":
          row["id"] = i
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_cmrc(root, unanswerable=False):
  """SQuAD-format cmrc2018 files (train 30, dev 8, test 5 questions) from
  the demo corpus, and the demo vocabulary as ``<root>/vocab.txt``."""
  shutil.copy(DEMO_VOCAB, root / "vocab.txt")
  with open(
    os.path.join(ROOT, "demo", "corpus", "science.txt"), encoding="utf-8"
  ) as f:
    sentences = [line for line in f.read().split("\n") if len(line) > 12]
  for split, count in (("train", 30), ("dev", 8), ("test", 5)):
    paragraphs = []
    for i in range(count):
      context = "".join(sentences[i % len(sentences) :][:3])
      answer = context[4:8]
      impossible = unanswerable and i % 4 == 0
      qas = [
        {
          "id": f"{split}-{i}",
          "question": "这里说的是什么？",
          "answers": []
          if split == "test" or impossible
          else [{"text": answer, "answer_start": 4}],
        }
      ]
      if impossible:
        qas[0]["is_impossible"] = True
      paragraphs.append({"context": context, "qas": qas})
    path = root / "finetuning_data" / "cmrc2018" / f"{split}.json"
    os.makedirs(path.parent, exist_ok=True)
    path.write_text(
      json.dumps({"data": [{"paragraphs": paragraphs}]}, ensure_ascii=False),
      encoding="utf-8",
    )


def config_for(data_dir, **hparams):
  hparams.setdefault("task_names", ["tnews"])
  return configure_finetuning.FinetuningConfig("m", str(data_dir), **hparams)


def write_jsonl(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for row in rows:
      f.write(
        (json.dumps(row, ensure_ascii=False) if isinstance(row, dict) else row)
        + "\n"
      )


def demo_sentences():
  with open(
    os.path.join(ROOT, "demo", "corpus", "life.txt"), encoding="utf-8"
  ) as f:
    return [line for line in f.read().split("\n") if line.strip()]


def clue_row(task, sentences, rng, label, index):
  a, b = rng.choice(sentences), rng.choice(sentences)
  if task in ("afqmc", "cmnli", "ocnli"):
    row = {"sentence1": a, "sentence2": b}
  elif task in ("tnews", "iflytek"):
    row = {"sentence": a}
  elif task == "csl":
    row = {"abst": a, "keyword": [b[:2], b[2:4]]}
  else:
    row = {
      "text": a,
      "target": {
        "span1_text": a[:2],
        "span1_index": 0,
        "span2_text": a[4:5],
        "span2_index": 4,
      },
    }
  if label is not None:
    row["label"] = label
  else:
    row["id"] = index
  return row


@functools.cache
def mirrored():
  """One MirroredStrategy over two CPUs for the module: a second instance in
  the same process would reuse the first one's collective instance keys."""
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


# a tiny odd-sized model over the demo vocabulary
DEMO_TINY_HPARAMS = {
  "model_size": "small",
  "vocab_size": 2244,
  "embedding_size": 20,
  "model_hparam_overrides": {
    "hidden_size": 36,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 52,
  },
  "generator_hidden_size": 0.5,
}


def trainer_outputs(config, checkpoint, split="dev"):
  """{task: (task, examples, features as arrays, tokenizer, logits)} of a
  fine-tuned checkpoint's dense tasks on a split: the features the tasks
  make (what the trainer feeds) and the model's logits on them ([n,
  labels]; tagging [n, seq_len, tags])."""
  from model import tokenizers

  tokenizer = tokenizers.get_tokenizer(config.vocab_file, config.do_lower_case)
  tasks = task_builder.get_tasks(config)
  model = finetuning_model.FinetuningModel(config, tasks)
  loading.init_from_checkpoint(model.official_variables(), checkpoint)
  out = {}
  for task in tasks:
    task.get_examples("train")  # a regression task takes its range there
    examples = task.split_examples(split)
    features = task.featurize(examples, tokenizer)
    arrays = {k: np.array([f[k] for f in features]) for k in features[0]}
    sequence = model.electra(
      *(arrays[k] for k in ("input_ids", "input_mask", "segment_ids")), False
    )
    logits = model.heads[task.name](sequence, False).numpy()
    out[task.name] = (task, examples, arrays, tokenizer, logits)
  return out


# its encoder alone (what a fine-tuned checkpoint holds)
DEMO_ENCODER_HPARAMS = {
  k: v for k, v in DEMO_TINY_HPARAMS.items() if "generator" not in k
}


# fine-tuning the demo encoder from random weights, a few steps
DEMO_FINETUNE_RUN = dict(
  DEMO_ENCODER_HPARAMS,
  vocab_file=DEMO_VOCAB,
  num_train_epochs=2,
  learning_rate=1e-3,
  init_checkpoint=None,
)


def entity_label(outputs, row):
  """One row of a tagging SavedModel's outputs (numpy) in CLUENER's
  submission format: {type: {entity text: [[start, end], ...]}}."""
  label = {}
  for kind, text, start, end in zip(
    outputs["entity_type"][row], outputs["entity_text"][row],
    outputs["entity_start"][row], outputs["entity_end"][row],
  ):  # fmt: skip
    if start >= 0:
      spans = label.setdefault(kind.decode(), {})
      spans.setdefault(text.decode(), []).append([int(start), int(end)])
  return label


def write_model(directory, seed=3, **hparams):
  """A random pretraining model of the demo's shape (DEMO_TINY_HPARAMS),
  written as our checkpoint with its model.json and the demo vocab."""
  model = build(**DEMO_TINY_HPARAMS, vocab_file=DEMO_VOCAB, **hparams)
  randomize(model.official_variables(), seed=seed)
  path = checkpoints.make_checkpoint(model.official_variables()).write(
    os.path.join(directory, "model.ckpt")
  )
  checkpoints.write_state_file(directory, os.path.basename(path))
  model_record.write(directory, model.config, "test")
  return model
