"""Against transformers itself: models it saved load here with its logits,
and what we export loads there with ours. Skipped without torch and
transformers (neither is a dependency)."""

import copy
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import ENCODER_SHAPE
from helpers import POSITIONS
from helpers import SHAPE
from helpers import finetuned_checkpoint
from helpers import load
from helpers import outputs

import convert_checkpoint
from conftest import tiny_batch
from conftest import write_vocab
from interop import torch_pickle
from interop import writers

torch = pytest.importorskip("torch", reason="torch is not installed")
transformers = pytest.importorskip(
  "transformers", reason="transformers is not installed"
)
ATOL = 1e-5


def electra_config(hidden, heads, ffn, architecture):
  return transformers.ElectraConfig(
    vocab_size=97, embedding_size=20, hidden_size=hidden, num_hidden_layers=2,
    num_attention_heads=heads, intermediate_size=ffn,
    max_position_embeddings=24, architectures=[architecture],
  )  # fmt: skip


def perturbed(model, seed):
  generator = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for param in model.parameters():
      param.add_(0.1 * torch.randn(param.shape, generator=generator))
  return model.eval()


@pytest.fixture(scope="module")
def hf_pair(tmp_path_factory):
  """A discriminator saved by save_pretrained (safetensors) and a generator
  with the same token embeddings saved by torch.save (pytorch_model.bin)."""
  root = tmp_path_factory.mktemp("transformers")
  disc = perturbed(
    transformers.ElectraForPreTraining(
      electra_config(36, 3, 52, "ElectraForPreTraining")
    ),
    1,
  )
  gen = perturbed(
    transformers.ElectraForMaskedLM(
      electra_config(18, 1, 72, "ElectraForMaskedLM")
    ),
    2,
  )
  gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
  disc.save_pretrained(root / "disc")
  os.makedirs(root / "gen")
  torch.save(gen.state_dict(), root / "gen" / "pytorch_model.bin")
  gen.config.to_json_file(root / "gen" / "config.json")
  return (
    disc,
    gen,
    {"discriminator": str(root / "disc"), "generator": str(root / "gen")},
  )


def transformers_outputs(disc, gen):
  batch = {
    k: torch.tensor(v, dtype=torch.long) for k, v in tiny_batch().items()
  }
  args = dict(
    input_ids=batch["input_ids"], attention_mask=batch["input_mask"],
    token_type_ids=batch["segment_ids"],
  )  # fmt: skip
  with torch.no_grad():
    disc_logits = disc(**args).logits.numpy() if disc is not None else None
    gen_logits = gen(**args).logits.numpy() if gen is not None else None
  if gen_logits is not None:
    gen_logits = np.take_along_axis(gen_logits, POSITIONS[:, :, None], 1)
  return disc_logits, gen_logits


def assert_close(ours, theirs):
  mask = tiny_batch()["input_mask"].astype(bool)
  np.testing.assert_allclose(ours[0][mask], theirs[0][mask], atol=ATOL)
  np.testing.assert_allclose(ours[1], theirs[1], atol=ATOL)


def test_transformers_models_load_with_their_logits(hf_pair):
  disc, gen, spec = hf_pair
  model, report = load(spec)
  assert report.missing == [] and report.unused == []
  assert_close(outputs(model), transformers_outputs(disc, gen))


def test_bfloat16_weights_load_upcast(hf_pair, tmp_path):
  disc = hf_pair[0]
  copy.deepcopy(disc).to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
  upcast = transformers.ElectraForPreTraining.from_pretrained(
    tmp_path / "bf16", dtype=torch.float32
  ).eval()
  model, report = load(str(tmp_path / "bf16"))
  assert any("bfloat16 tensors upcast to float32" in n for n in report.notes)
  theirs = transformers_outputs(upcast, None)[0]
  mask = tiny_batch()["input_mask"].astype(bool)
  np.testing.assert_allclose(outputs(model)[0][mask], theirs[mask], atol=ATOL)


def test_transformers_to_ours_to_transformers(hf_pair, tmp_path):
  disc, gen, spec = hf_pair
  out = str(tmp_path / "again")
  convert_checkpoint.convert(spec, out, "hf")
  again = [
    cls.from_pretrained(os.path.join(out, name)).eval()
    for cls, name in [
      (transformers.ElectraForPreTraining, "discriminator"),
      (transformers.ElectraForMaskedLM, "generator"),
    ]
  ]
  assert_close(transformers_outputs(*again), transformers_outputs(disc, gen))


def test_tf1_to_transformers(trained, tmp_path):  # noqa: F811
  model, directory = trained
  prefix = str(tmp_path / "tf1" / "model.ckpt-5")
  writers.write_tf1_checkpoint(directory, prefix)
  out = str(tmp_path / "hf")
  vocab = write_vocab(str(tmp_path / "vocab.txt"))
  convert_checkpoint.convert(prefix, out, "hf", SHAPE, vocab)
  theirs = transformers_outputs(
    transformers.ElectraForPreTraining.from_pretrained(
      os.path.join(out, "discriminator")
    ).eval(),
    transformers.ElectraForMaskedLM.from_pretrained(
      os.path.join(out, "generator")
    ).eval(),
  )
  assert_close(outputs(model), theirs)
  tokenizer = transformers.AutoTokenizer.from_pretrained(
    os.path.join(out, "discriminator")
  )
  assert tokenizer("tok7 tok9")["input_ids"] == [2, 12, 14, 3]


def test_classifier_exports_with_identical_logits(trained, tmp_path):  # noqa: F811
  model, ckpt = finetuned_checkpoint(trained, str(tmp_path), ["tnews"])
  out = str(tmp_path / "hf")
  convert_checkpoint.convert(ckpt, out, "hf", ENCODER_SHAPE)
  classifier = transformers.ElectraForSequenceClassification.from_pretrained(
    os.path.join(out, "tnews")
  ).eval()
  assert classifier.config.id2label[14] == "116"
  batch = tiny_batch()
  sequence = model.electra(
    *(
      tf.constant(batch[k]) for k in ("input_ids", "input_mask", "segment_ids")
    ),
    False,
  )
  ours = model.heads["tnews"](sequence, False).numpy()
  with torch.no_grad():
    theirs = classifier(
      input_ids=torch.tensor(batch["input_ids"], dtype=torch.long),
      attention_mask=torch.tensor(batch["input_mask"], dtype=torch.long),
      token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
    ).logits.numpy()
  np.testing.assert_allclose(theirs, ours, atol=ATOL)


def test_our_reader_agrees_with_torch_load(tmp_path):
  base = torch.randn(4, 6)
  state = {
    "f32": base,
    "view": base.t(),  # shares the storage, strided
    "f16": torch.randn(3, 2).half(),
    "bf16": torch.randn(5).bfloat16(),
    "ids": torch.arange(7).expand(1, -1),
  }
  path = str(tmp_path / "pytorch_model.bin")
  torch.save(state, path)
  read = torch_pickle.read_torch_file(path)
  for name, tensor in state.items():
    np.testing.assert_array_equal(
      read[name][0],
      tensor.float().numpy() if name == "bf16" else tensor.numpy(),
    )
  assert json.dumps({n: d for n, (_, d) in read.items()}) == json.dumps(
    {"f32": "float32", "view": "float32", "f16": "float16",
     "bf16": "bfloat16", "ids": "int64"}
  )  # fmt: skip
