"""Training FLOPs of ELECTRA, counted as the official flops_computation.py.

The official conventions: a multiply-add is 2 FLOPs; the backward pass is
assumed to cost as much as the forward pass (so training = 2 x forward);
embedding lookups are counted as dense one-hot matmuls. `electra_train_flops`
follows them exactly. `electra_executed_flops` counts what this toolkit
actually computes: gathers for the input embeddings (no one-hot matmul) and a
backward pass of twice the forward (two matmuls per forward matmul), the
usual convention for model-FLOPs utilisation.
"""

DROPOUT_FLOPS = 4
LAYER_NORM_FLOPS = 5
ACTIVATION_FLOPS = 8
SOFTMAX_FLOPS = 5


class TransformerFlops:
  """Forward FLOPs per sequence of a transformer (the official formulas)."""

  def __init__(
    self,
    h,
    l,
    s,
    v,
    e=None,
    i=None,
    heads=None,
    output_frac=0.15625,
    sparse_embed_lookup=False,
  ):
    self.h, self.l, self.s, self.v = h, l, s, v
    self.e = h if e is None else e
    self.i = 4 * h if i is None else i
    self.heads = max(h // 64, 1) if heads is None else heads
    self.output_frac = output_frac
    self.sparse_embed_lookup = sparse_embed_lookup

  def block(self):
    h, i, s, heads = self.h, self.i, self.s, self.heads
    per_token = (
      3 * 2 * h * h
      + 3 * h
      + 2 * h * s
      + SOFTMAX_FLOPS * s * heads
      + DROPOUT_FLOPS * s * heads
      + s * heads
      + 2 * h * s
      + 2 * h * h
      + h
      + DROPOUT_FLOPS * h
      + h
      + LAYER_NORM_FLOPS
      + 2 * h * i
      + ACTIVATION_FLOPS * i
      + i
      + 2 * h * i
      + h
      + DROPOUT_FLOPS * h
      + h
      + LAYER_NORM_FLOPS * h
    )
    return per_token * s

  def embedding(self, output=False):
    e, h, v = self.e, self.h, self.v
    flops = 0
    if output or not self.sparse_embed_lookup:
      flops += 2 * e * v
    if not output:
      flops += (
        2 * e * (self.s + 2)
        + 2 * e
        + LAYER_NORM_FLOPS * e
        + (DROPOUT_FLOPS * e)
      )
    if e != h or output:
      flops += 2 * h * e + (e if output else h)
      if output:
        flops += (
          ACTIVATION_FLOPS * e
          + LAYER_NORM_FLOPS * e
          + SOFTMAX_FLOPS * v
          + 2 * v
        )
        return self.output_frac * flops * self.s
    return flops * self.s

  def binary_classification(self):
    h = self.h
    return (2 * h * h + h + ACTIVATION_FLOPS * h + 2 * h) * self.s

  def forward(self, discriminator):
    head = (
      self.binary_classification()
      if discriminator
      else self.embedding(output=True)
    )
    return self.l * self.block() + self.embedding() + head


def _models(disc, gen, seq_len, vocab, embedding_size, tied, frac, sparse):
  """(discriminator, generator) `TransformerFlops` from BertConfigs."""
  d = TransformerFlops(
    disc.hidden_size,
    disc.num_hidden_layers,
    seq_len,
    vocab,
    embedding_size,
    disc.intermediate_size,
    disc.num_attention_heads,
    frac,
    sparse,
  )
  g = TransformerFlops(
    gen.hidden_size,
    gen.num_hidden_layers,
    seq_len,
    vocab,
    embedding_size if tied else None,
    gen.intermediate_size,
    gen.num_attention_heads,
    frac,
    sparse,
  )
  return d, g


def electra_train_flops(
  disc, gen, batch_size, seq_len, vocab, embedding_size, tied=True
):
  """Official count of one training step (generator + discriminator), with
  the official output fraction 0.15625 (20 of 128 positions)."""
  d, g = _models(
    disc, gen, seq_len, vocab, embedding_size, tied, 0.15625, sparse=False
  )
  return 2 * batch_size * (d.forward(True) + g.forward(False))


def electra_executed_flops(
  disc,
  gen,
  batch_size,
  seq_len,
  vocab,
  embedding_size,
  tied=True,
  mask_prob=0.15,
):
  """FLOPs this toolkit executes per step: sparse lookups, backward = 2x,
  generator outputs at int((mask_prob + 0.005) * seq_len) positions."""
  frac = int((mask_prob + 0.005) * seq_len) / seq_len
  d, g = _models(
    disc, gen, seq_len, vocab, embedding_size, tied, frac, sparse=True
  )
  return 3 * batch_size * (d.forward(True) + g.forward(False))
