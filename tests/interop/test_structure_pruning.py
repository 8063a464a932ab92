"""Head and FFN pruning: the importance is the gate derivative, and a
pruned encoder computes what the full one does with those parts zeroed."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import randomize

from interop import structure_pruning
from model import bert_config
from model import modeling

HEADS, HEAD_SIZE, HIDDEN = 3, 4, 5


def test_scores_are_the_derivatives_of_gates_on_each_head():
  rng = np.random.default_rng(0)
  context = tf.constant(rng.normal(size=[7, HEADS * HEAD_SIZE]), tf.float64)
  kernel = tf.Variable(rng.normal(size=[HEADS * HEAD_SIZE, HIDDEN]))
  target = tf.constant(rng.normal(size=[7, HIDDEN]))
  gates = tf.Variable(tf.ones([HEADS], tf.float64))

  def loss(gated):
    return tf.reduce_sum(tf.square(gated @ kernel - target))

  with tf.GradientTape(persistent=True) as tape:
    per_column = tf.repeat(gates, HEAD_SIZE)
    value = loss(context * per_column)
  by_gate = tape.gradient(value, gates).numpy()
  by_kernel = tape.gradient(value, kernel).numpy()
  np.testing.assert_allclose(
    structure_pruning.head_scores(kernel.numpy(), by_kernel, HEADS),
    np.abs(by_gate),
    rtol=1e-10,
  )
  # one neuron per row: the same with heads of width 1
  np.testing.assert_allclose(
    structure_pruning.neuron_scores(kernel.numpy(), by_kernel),
    structure_pruning.head_scores(kernel.numpy(), by_kernel, HEADS * HEAD_SIZE),
  )


def test_strongest_and_head_columns():
  assert structure_pruning.strongest([0.2, 0.9, 0.2, 0.5], 3) == [0, 1, 3]
  np.testing.assert_array_equal(
    structure_pruning.head_columns([0, 2], 3), [0, 1, 2, 6, 7, 8]
  )


def odd_config(**overrides):
  fields = dict(
    vocab_size=31, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
    intermediate_size=52, max_position_embeddings=24,
  )  # fmt: skip
  fields.update(overrides)
  return bert_config.BertConfig(**fields)


@pytest.mark.parametrize("fused", [False, True])
def test_a_pruned_encoder_equals_the_full_one_with_parts_zeroed(fused):
  option = "auto" if fused else False
  full = modeling.BertModel(
    odd_config(), "electra", embedding_size=20, fused_kernels=option
  )
  small = modeling.BertModel(
    odd_config(attention_head_size=12, num_attention_heads=2,
               intermediate_size=30),
    "electra", embedding_size=20, fused_kernels=option,
  )  # fmt: skip
  variables = modeling.variables_by_name(full)
  randomize(variables, seed=2)
  kept = {
    0: ([0, 2], sorted([*range(0, 52, 2), 1, 3, 5, 7])),
    1: ([1, 2], range(22, 52)),
  }
  tensors = {n: v.numpy() for n, v in variables.items()}
  for layer, (heads, neurons) in kept.items():
    tensors = structure_pruning.prune_layer(
      tensors, layer, heads, list(neurons), 12
    )
  for name, var in modeling.variables_by_name(small).items():
    var.assign(tensors[name])
  # the full model with the dropped heads' and neurons' output rows zeroed
  for layer, (heads, neurons) in kept.items():
    scopes = structure_pruning.layer_scopes(layer)
    attention = variables[f"{scopes['attention_output']}/kernel"]
    rows = np.zeros([36, 1], np.float32)
    rows[structure_pruning.head_columns(heads, 12)] = 1.0
    attention.assign(attention * rows)
    ffn = variables[f"{scopes['output']}/kernel"]
    rows = np.zeros([52, 1], np.float32)
    rows[list(neurons)] = 1.0
    ffn.assign(ffn * rows)
  ids = tf.constant([[2, 5, 7, 30, 1, 0], [3, 3, 9, 4, 0, 0]])
  mask = tf.cast(ids > 0, tf.int32)
  # traced at a fixed shape: the compiled kernels where they are on
  want = tf.function(full)(ids, mask, tf.zeros_like(ids))
  got = tf.function(small)(ids, mask, tf.zeros_like(ids))
  assert got.shape == [2, 6, 36]
  np.testing.assert_allclose(got, want, atol=2e-5)


def test_a_target_outside_the_model_is_named():
  config = odd_config()
  with pytest.raises(ValueError, match="--heads 4: expected 1 to 3"):
    structure_pruning.check_target(4, None, config)
  with pytest.raises(ValueError, match="--ffn-width 0: expected 1 to 52"):
    structure_pruning.check_target(None, 0, config)
  with pytest.raises(ValueError, match="attention_head_size must be"):
    odd_config(attention_head_size=0).validate()
