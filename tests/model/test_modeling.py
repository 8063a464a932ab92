"""The encoder against an independent numpy forward pass, and BertConfig."""

import json

import numpy as np
import pytest
import tensorflow as tf

import numpy_reference as ref
from conftest import tiny_batch
from model import bert_config
from model import layers
from model import modeling


def odd_config(**overrides):
  fields = dict(
    vocab_size=97,
    hidden_size=36,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=52,
    max_position_embeddings=24,
  )
  fields.update(overrides)
  return bert_config.BertConfig(**fields)


def numpy_weights(module):
  return {
    name: var.numpy().astype(np.float64)
    for name, var in modeling.variables_by_name(module).items()
  }


@pytest.fixture(scope="module")
def model_and_batch():
  tf.random.set_seed(3)
  model = modeling.BertModel(odd_config(), "electra", embedding_size=20)
  # non-trivial LayerNorm parameters and biases, so that a misplaced one shows
  for var in model.variables:
    if var.shape.rank == 1:
      var.assign(
        tf.random.normal(var.shape, stddev=0.3)
        + (1.0 if "gamma" in var.name else 0.0)
      )
  return model, tiny_batch()


def test_bert_config_has_official_defaults():
  config = bert_config.BertConfig(vocab_size=21128)
  assert config.to_dict() == {
    "vocab_size": 21128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
  }


def test_bert_config_json_round_trip(tmp_path):
  config = odd_config(hidden_act="relu")
  path = str(tmp_path / "bert_config.json")
  config.to_json(path)
  assert json.load(open(path))["hidden_act"] == "relu"
  assert (
    bert_config.BertConfig.from_json_file(path).to_dict() == config.to_dict()
  )


def test_bert_config_rejects_unknown_field():
  with pytest.raises(ValueError, match="hiden_size"):
    bert_config.BertConfig.from_dict({"vocab_size": 5, "hiden_size": 8})


def test_heads_must_divide_hidden():
  with pytest.raises(ValueError, match="num_attention_heads"):
    modeling.BertModel(odd_config(num_attention_heads=5))


def test_gelu_is_the_exact_erf_form():
  x = np.linspace(-4, 4, 33)
  np.testing.assert_allclose(
    layers.gelu(tf.constant(x)).numpy(), ref.gelu(x), atol=1e-12
  )


def test_forward_matches_numpy_reference(model_and_batch):
  model, batch = model_and_batch
  ours = model(batch["input_ids"], batch["input_mask"], batch["segment_ids"])
  expected = ref.encoder(
    numpy_weights(model),
    "electra",
    3,
    batch["input_ids"],
    batch["input_mask"],
    batch["segment_ids"],
  )
  assert ours.shape == (5, 17, 36)
  np.testing.assert_allclose(ours.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("causal", ["ltr", "rtl"])
def test_causal_forward_matches_numpy_reference(causal):
  tf.random.set_seed(4)
  model = modeling.BertModel(
    odd_config(num_hidden_layers=1),
    "generator_x",
    ltr=causal == "ltr",
    rtl=causal == "rtl",
  )
  batch = tiny_batch(batch_size=2)
  ours = model(batch["input_ids"], batch["input_mask"], batch["segment_ids"])
  expected = ref.encoder(
    numpy_weights(model),
    "generator_x",
    3,
    batch["input_ids"],
    batch["input_mask"],
    batch["segment_ids"],
    causal=causal,
  )
  np.testing.assert_allclose(ours.numpy(), expected, atol=1e-5)


def test_padding_does_not_change_real_positions(model_and_batch):
  model, batch = model_and_batch
  ids, mask, seg = (
    batch[k].copy() for k in ("input_ids", "input_mask", "segment_ids")
  )
  before = model(ids, mask, seg).numpy()
  ids[mask == 0] = 57  # garbage in the padding
  after = model(ids, mask, seg).numpy()
  real = mask.astype(bool)
  np.testing.assert_allclose(after[real], before[real], atol=1e-5)


def test_dropout_only_when_training(model_and_batch):
  model, batch = model_and_batch
  args = (batch["input_ids"], batch["input_mask"], batch["segment_ids"])
  a, b = model(*args).numpy(), model(*args).numpy()
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(model(*args, training=True).numpy(), a)


def test_embeddings_project_only_when_sizes_differ():
  same = modeling.BertModel(odd_config(num_hidden_layers=1), embedding_size=36)
  other = modeling.BertModel(odd_config(num_hidden_layers=1), embedding_size=20)
  assert same.embeddings_project is None
  names = modeling.variables_by_name(other)
  assert names["electra/embeddings_project/kernel"].shape == (20, 36)
  assert other.embedding_table.shape == (97, 20)


def test_shared_embeddings_are_one_variable():
  disc = modeling.BertModel(
    odd_config(num_hidden_layers=1), "electra", embedding_size=20
  )
  gen = modeling.BertModel(
    odd_config(hidden_size=12, num_attention_heads=1, num_hidden_layers=1),
    "generator",
    embeddings=disc.embeddings,
  )
  assert gen.embedding_table is disc.embedding_table
  assert not any(
    n.startswith("generator/embeddings/")
    for n in modeling.variables_by_name(gen)
  )
  assert "generator/embeddings_project/kernel" in modeling.variables_by_name(
    gen
  )


@pytest.mark.parametrize(
  "field", ["hidden_dropout_prob", "attention_probs_dropout_prob"]
)
def test_dropout_probabilities_are_named_errors(field):
  config = odd_config(**{field: 1.0})
  with pytest.raises(ValueError, match=f"{field} is 1.0; expected 0 <= p < 1"):
    config.validate()


def test_embedding_tables_are_never_read_sparsely(model_and_batch):
  """A gather from a variable (ResourceGather) switches it to copy-on-read:
  every later dense read (the update, a tied output layer) would copy the
  whole table. The lookups gather from the tables' values instead."""
  model, batch = model_and_batch

  @tf.function
  def gradients(input_ids, input_mask, segment_ids):
    with tf.GradientTape() as tape:
      output = model(input_ids, input_mask, segment_ids, training=True)
    return tape.gradient(output, model.trainable_variables)

  graph = gradients.get_concrete_function(
    batch["input_ids"], batch["input_mask"], batch["segment_ids"]
  ).graph
  ops = {op.type for op in graph.get_operations()}
  assert "GatherV2" in ops and "ResourceGather" not in ops


def _reference_scores(weights, layer, states, heads):
  """Scaled q k^T of ``layer`` from its input ``states`` [b, l, h]."""
  prefix = f"electra/encoder/layer_{layer}/attention/self/"

  def split(name):
    x = ref.dense(states, weights, prefix + name)
    batch, length, width = x.shape
    x = x.reshape(batch, length, heads, width // heads)
    return x.transpose(0, 2, 1, 3)

  query, key = split("query"), split("key")
  return query @ key.transpose(0, 1, 3, 2) / np.sqrt(query.shape[-1])


@pytest.mark.parametrize("traced", [False, True])
def test_taps_collect_every_layers_states_and_scores(model_and_batch, traced):
  model, batch = model_and_batch
  inputs = [batch[k] for k in ("input_ids", "input_mask", "segment_ids")]

  def encode(ids, mask, segments):
    taps = modeling.LayerTaps()
    output = model(ids, mask, segments, False, taps)
    return output, taps.hidden, taps.attention

  if traced:  # static shapes: the compiled sublayers
    encode = tf.function(encode, autograph=False)
  output, hidden, attention = encode(*inputs)
  assert len(hidden) == 3 and len(attention) == 2
  assert attention[0].shape == (5, 3, 17, 17)
  np.testing.assert_allclose(hidden[-1].numpy(), output.numpy(), atol=1e-6)
  weights = numpy_weights(model)
  for layer in range(2):
    expected = _reference_scores(
      weights, layer, hidden[layer].numpy().astype(np.float64), 3
    )
    np.testing.assert_allclose(attention[layer].numpy(), expected, atol=1e-4)
