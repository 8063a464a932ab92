"""An independent numpy forward pass of the official BertModel (for tests).

Written from the official TF1 code's definition, by variable name: embeddings,
LayerNorm (epsilon 1e-12), optional embeddings_project, post-LayerNorm layers
with the -10000 attention mask adder and the exact erf GELU.
"""

import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu(x):
  return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def dense(x, w, prefix):
  return x @ w[prefix + "/kernel"] + w[prefix + "/bias"]


def softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def encoder(
  w, scope, num_heads, ids, mask, segments, embed_scope=None, causal=None
):
  """Sequence output [B, L, H] from a dict of numpy weights by TF1 name."""
  emb = f"{embed_scope or scope}/embeddings"
  seq_len = ids.shape[1]
  x = (
    w[emb + "/word_embeddings"][ids]
    + w[emb + "/token_type_embeddings"][segments]
    + w[emb + "/position_embeddings"][:seq_len][None]
  )
  x = layer_norm(x, w[emb + "/LayerNorm/gamma"], w[emb + "/LayerNorm/beta"])
  if scope + "/embeddings_project/kernel" in w:
    x = dense(x, w, scope + "/embeddings_project")
  allowed = np.broadcast_to(
    mask[:, None, :].astype(np.float64), (ids.shape[0], seq_len, seq_len)
  )
  if causal == "ltr":
    allowed = allowed * np.tril(np.ones([seq_len, seq_len]))
  elif causal == "rtl":
    allowed = allowed * np.triu(np.ones([seq_len, seq_len]))
  adder = (1.0 - allowed[:, None]) * -10000.0
  layer = 0
  while f"{scope}/encoder/layer_{layer}/output/dense/kernel" in w:
    p = f"{scope}/encoder/layer_{layer}"
    batch, _, hidden = x.shape
    size = hidden // num_heads

    def heads(t, batch=batch, size=size):
      return t.reshape(batch, seq_len, num_heads, size).transpose(0, 2, 1, 3)

    q = heads(dense(x, w, p + "/attention/self/query"))
    k = heads(dense(x, w, p + "/attention/self/key"))
    v = heads(dense(x, w, p + "/attention/self/value"))
    probs = softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + adder)
    ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq_len, hidden)
    attn = layer_norm(
      dense(ctx, w, p + "/attention/output/dense") + x,
      w[p + "/attention/output/LayerNorm/gamma"],
      w[p + "/attention/output/LayerNorm/beta"],
    )
    inter = gelu(dense(attn, w, p + "/intermediate/dense"))
    x = layer_norm(
      dense(inter, w, p + "/output/dense") + attn,
      w[p + "/output/LayerNorm/gamma"],
      w[p + "/output/LayerNorm/beta"],
    )
    layer += 1
  return x


def token_logits(w, scope, reprs, table):
  """The official get_token_logits: dense+gelu, LayerNorm, table^T + bias."""
  hidden = gelu(dense(reprs, w, scope + "/dense"))
  hidden = layer_norm(
    hidden, w[scope + "/LayerNorm/gamma"], w[scope + "/LayerNorm/beta"]
  )
  return hidden @ table.T + w[scope + "/output_bias"]


def discriminator_logits(w, sequence):
  hidden = gelu(dense(sequence, w, "discriminator_predictions/dense"))
  return dense(hidden, w, "discriminator_predictions/dense_1")[..., 0]
