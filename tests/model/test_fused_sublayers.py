"""The compiled transformer sublayers against the plain ops they replace."""

import numpy as np
import pytest
import tensorflow as tf

from model import bert_config
from model import dropout_bits
from model import fused_ops
from model import fused_sublayers
from model import modeling

# odd sizes, two heads of 7: a transposed axis would show
CONFIG = bert_config.BertConfig(
  vocab_size=11,
  hidden_size=14,
  num_hidden_layers=1,
  num_attention_heads=2,
  intermediate_size=9,
  max_position_embeddings=8,
)
BATCH, SEQ = 3, 5


def layer_outputs(fused, dtype):
  """A traced transformer layer without dropout, on the compiled kernels
  or the plain ops: its output and the gradients of its input and
  variables, as float32 arrays."""
  tf.random.set_seed(0)
  layer = modeling.TransformerLayer(CONFIG, "probe/layer_0")
  rng = np.random.default_rng(1)
  for var in layer.trainable_variables:
    var.assign(rng.normal(0, 0.3, var.shape).astype(np.float32))
  x = tf.constant(rng.normal(size=[BATCH, SEQ, 14]), dtype)
  mask = np.ones([BATCH, SEQ], np.int32)
  mask[1, 3:] = 0
  bias = modeling.attention_bias_from_mask(tf.constant(mask))
  dy = tf.constant(rng.normal(size=[BATCH, SEQ, 14]), dtype)

  @tf.function
  def run():
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, bias, training=False, fused=fused)
    grads = tape.gradient(y, [x, *layer.trainable_variables], dy)
    return [tf.cast(t, tf.float32) for t in [y, *grads]]

  graph = run.get_concrete_function().graph
  called = " ".join(
    op.get_attr("f").name
    for op in graph.get_operations()
    if op.type in ("StatefulPartitionedCall", "PartitionedCall")
  )
  for kernel in ("_probs_forward", "_bias_gelu_forward", "_add_norm_forward"):
    assert (kernel in called) == fused, kernel
  return [t.numpy() for t in run()]


@pytest.mark.parametrize(
  "dtype,tolerance", [(tf.float32, 2e-5), (tf.bfloat16, 0.08)]
)
def test_compiled_layer_equals_the_plain_ops(dtype, tolerance):
  compiled = layer_outputs(True, dtype)
  plain = layer_outputs(False, dtype)
  for ours, reference in zip(compiled, plain):
    scale = max(1.0, np.abs(reference).max())
    np.testing.assert_allclose(ours, reference, atol=tolerance * scale)


def next_keep_mask(shape, rate):
  """The keep-mask the next compiled dropout of ``shape`` draws: the seed
  comes from TensorFlow's generator, so after the same `set_seed` the
  kernel draws this seed again."""
  tf.random.set_seed(11)
  seed = dropout_bits.random_seed()
  keep = tf.function(
    lambda s: dropout_bits.hashed_keep_mask(list(shape), s, rate),
    jit_compile=True,
  )(seed)
  tf.random.set_seed(11)
  return keep.numpy()


def test_attention_dropout_masks_and_scales_the_softmax():
  rng = np.random.default_rng(2)
  scores = tf.constant(rng.normal(size=[2, 3, 5, 5]), tf.float32)
  bias = tf.zeros([2, 1, 1, 5])
  dy = tf.constant(rng.normal(size=[2, 3, 5, 5]), tf.float32)
  keep = next_keep_mask(scores.shape, 0.4)
  with tf.GradientTape() as tape:
    tape.watch(scores)
    probs = fused_sublayers.attention_probs(scores, bias, 0.5, 0.4, True)
  ours = tape.gradient(probs, scores, dy)
  with tf.GradientTape() as tape:
    tape.watch(scores)
    softmax = tf.nn.softmax(scores * 0.5)
    expected = tf.where(keep, softmax / 0.6, 0.0)
  np.testing.assert_allclose(probs.numpy(), expected.numpy(), atol=1e-6)
  np.testing.assert_allclose(
    ours.numpy(), tape.gradient(expected, scores, dy).numpy(), atol=1e-6
  )
  assert 0 < (~keep).sum() < keep.size


def test_add_norm_dropout_gradients_follow_the_mask():
  rng = np.random.default_rng(3)
  y, residual, dy = (
    tf.constant(rng.normal(size=[3, 4, 7]), tf.float32) for _ in range(3)
  )
  bias, gamma, beta = (
    tf.constant(rng.normal(size=[7]), tf.float32) for _ in range(3)
  )
  inputs = [y, bias, residual, gamma, beta]
  keep = next_keep_mask(y.shape, 0.3)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    out = fused_sublayers.bias_dropout_add_norm(
      y, bias, residual, gamma, beta, 1e-12, 0.3, True
    )
  ours = tape.gradient(out, inputs, dy)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    summed = tf.where(keep, (y + bias) / 0.7, 0.0) + residual
    mean, variance = tf.nn.moments(summed, [-1], keepdims=True)
    expected = tf.nn.batch_normalization(
      summed, mean, variance, beta, gamma, 1e-12
    )
  np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
  for a, b in zip(ours, tape.gradient(expected, inputs, dy)):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


def encoder_outputs(fused_kernels):
  """A traced two-layer encoder (embeddings included) without dropout:
  its output and the gradients of every variable, float32 arrays."""
  config = bert_config.BertConfig(
    vocab_size=23, hidden_size=14, num_hidden_layers=2, num_attention_heads=2,
    intermediate_size=9, max_position_embeddings=8,
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
  )  # fmt: skip
  encoder = modeling.BertModel(
    config, "electra", embedding_size=10, fused_kernels=fused_kernels
  )
  rng = np.random.default_rng(4)
  for var in encoder.trainable_variables:
    var.assign(rng.normal(0, 0.3, var.shape).astype(np.float32))
  ids = tf.constant(rng.integers(0, 23, [BATCH, SEQ]), tf.int32)
  mask = np.ones([BATCH, SEQ], np.int32)
  mask[0, 2:] = 0
  dy = tf.constant(rng.normal(size=[BATCH, SEQ, 14]), tf.float32)

  @tf.function
  def run():
    with tf.GradientTape() as tape:
      y = encoder(ids, tf.constant(mask), tf.zeros_like(ids), training=True)
    return [y, *tape.gradient(y, encoder.trainable_variables, dy)]

  return [tf.convert_to_tensor(t).numpy() for t in run()]


def test_the_encoder_paths_agree_forward_and_backward():
  if not fused_ops.xla_on_every_device():
    pytest.skip("this machine's devices do not all run XLA")
  compiled, plain = encoder_outputs("auto"), encoder_outputs(False)
  assert len(compiled) == len(plain) > 20
  for ours, reference in zip(compiled, plain):
    scale = max(1.0, np.abs(reference).max())
    np.testing.assert_allclose(ours, reference, atol=2e-5 * scale)
