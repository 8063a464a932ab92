"""The transformer encoder used by ELECTRA (BERT's, with ELECTRA's additions).

Mirrors the official ``model/modeling.py`` (google-research/electra) layer for
layer: word + position + token-type embeddings, LayerNorm, dropout, an optional
``embeddings_project`` dense layer, then post-LayerNorm transformer layers.
Variable names and shapes equal the official TF1 ones.
"""

import copy

import tensorflow as tf

from model import fused_ops
from model import fused_sublayers
from model import layers
from util import hparams as hparams_lib

# compute dtype of each mixed_precision hparam value (variables stay float32)
COMPUTE_DTYPES = dict(
  zip(
    hparams_lib.MIXED_PRECISION_POLICIES,
    (tf.float32, tf.bfloat16, tf.float16),
  )
)


class Embeddings(tf.Module):
  """Word, position and token-type embeddings, LayerNorm and dropout.

  Variables under ``<scope>/embeddings/``: ``word_embeddings`` [vocab, E],
  ``token_type_embeddings`` [type_vocab, E], ``position_embeddings``
  [max_positions, E], ``LayerNorm/{gamma,beta}`` [E].
  """

  def __init__(self, config, scope, embedding_size):
    super().__init__(name=None)
    prefix = f"{scope}/embeddings"
    init = layers.truncated_normal(config.initializer_range)
    self.embedding_size = embedding_size
    self.dropout_prob = config.hidden_dropout_prob
    self.word_embeddings = layers.new_variable(
      prefix, "word_embeddings", [config.vocab_size, embedding_size], init
    )
    self.token_type_embeddings = layers.new_variable(
      prefix,
      "token_type_embeddings",
      [config.type_vocab_size, embedding_size],
      init,
    )
    self.position_embeddings = layers.new_variable(
      prefix,
      "position_embeddings",
      [config.max_position_embeddings, embedding_size],
      init,
    )
    self.layer_norm = layers.LayerNorm(prefix, embedding_size)

  def __call__(self, input_ids, segment_ids, training, fused=False):
    """Maps ids [batch, seq_len] to embeddings [batch, seq_len, E];
    ``fused``: normalise with the compiled kernel."""
    seq_len = tf.shape(input_ids)[1]
    # gathers from the tables' values, not from the variables: a variable
    # read sparsely switches to copy-on-read, and every dense read (the
    # update's, the generator's output layer) then copies the whole table
    output = tf.gather(tf.convert_to_tensor(self.word_embeddings), input_ids)
    output += tf.gather(
      tf.convert_to_tensor(self.token_type_embeddings), segment_ids
    )
    # a plain slice (no new axis): LiteRT's builtin strided slice
    output += self.position_embeddings[:seq_len]
    output = self.layer_norm(output, fused)
    return layers.dropout(output, self.dropout_prob, training)


def add_norm(dense, norm, inputs, residual, rate, training, fused):
  """norm(dropout(dense(inputs)) + residual): the end of every sublayer.

  Args:
    dense: a `layers.Dense`; norm: a `layers.LayerNorm`.
    inputs: [batch, seq_len, in]; residual: [batch, seq_len, out].
    rate: the dropout rate; training: whether to drop.
    fused: the dense's matmul on oneDNN and the rest one compiled kernel
      each way (`fused_sublayers`); else TensorFlow's ops one by one.
  """
  if fused:
    return fused_sublayers.bias_dropout_add_norm(
      dense.matmul(inputs),
      dense.bias,
      residual,
      norm.gamma,
      norm.beta,
      layers.LAYER_NORM_EPSILON,
      rate,
      training,
    )
  output = layers.dropout(dense(inputs), rate, training)
  return norm(output + residual)


class SelfAttention(tf.Module):
  """Multi-head self-attention plus its output dense, dropout and LayerNorm.

  Variables under ``<scope>/attention/``: ``self/{query,key,value}`` and
  ``output/dense``, ``output/LayerNorm``.
  """

  def __init__(self, config, scope):
    super().__init__(name=None)
    hidden = config.hidden_size
    init = layers.truncated_normal(config.initializer_range)
    self.num_heads = config.num_attention_heads
    self.head_size = config.head_size
    # hidden, unless heads were pruned
    width = self.num_heads * self.head_size
    self.attention_dropout = config.attention_probs_dropout_prob
    self.hidden_dropout = config.hidden_dropout_prob
    self.query = layers.Dense(
      f"{scope}/self/query", hidden, width, kernel_initializer=init
    )
    self.key = layers.Dense(
      f"{scope}/self/key", hidden, width, kernel_initializer=init
    )
    self.value = layers.Dense(
      f"{scope}/self/value", hidden, width, kernel_initializer=init
    )
    self.output_dense = layers.Dense(
      f"{scope}/output/dense", width, hidden, kernel_initializer=init
    )
    self.output_norm = layers.LayerNorm(f"{scope}/output", hidden)

  def _query_key_value(self, x, fused):
    """q, k, v [batch, heads, seq_len, head_size] of ``x`` [batch, seq_len,
    hidden]. ``fused``: one matmul with the three kernels side by side
    (joining them pays off over a training batch, not over one request);
    else three."""
    shape = tf.shape(x)
    if fused:
      dense = (self.query, self.key, self.value)
      kernel = tf.concat(
        [layers.cast_like(d.kernel, x.dtype) for d in dense], 1
      )
      bias = tf.concat([layers.cast_like(d.bias, x.dtype) for d in dense], 0)
      qkv = tf.nn.bias_add(
        tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel), bias
      )
      qkv = tf.reshape(
        qkv, [shape[0], shape[1], 3, self.num_heads, self.head_size]
      )
      return tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]))
    heads = [shape[0], shape[1], self.num_heads, self.head_size]
    return [
      tf.transpose(tf.reshape(proj(x), heads), [0, 2, 1, 3])
      for proj in (self.query, self.key, self.value)
    ]

  def __call__(self, x, attention_bias, training, fused=False, taps=None):
    """Args: x [batch, seq_len, hidden]; attention_bias broadcastable to
    [batch, heads, seq_len, seq_len] (0 to attend, -10000 to block);
    fused: the element-wise chains as compiled kernels (static shapes);
    taps: a `LayerTaps` that collects the layer's attention scores."""
    q, k, v = self._query_key_value(x, fused)
    # transposes and batched matmuls, as official: with heads of 26 (tiny)
    # the attention's forward and backward run faster than as einsums
    scores = tf.matmul(q, k, transpose_b=True)
    scale = 1.0 / self.head_size**0.5
    if taps is not None:
      taps.attention.append(tf.cast(scores, tf.float32) * scale)
    if fused:
      probs = fused_sublayers.attention_probs(
        scores, attention_bias, scale, self.attention_dropout, training
      )
    else:
      scores = tf.cast(scores, tf.float32) * scale + attention_bias
      probs = tf.cast(tf.nn.softmax(scores), x.dtype)
      probs = layers.dropout(probs, self.attention_dropout, training)
    context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
    shape = tf.shape(x)
    context = tf.reshape(
      context, [shape[0], shape[1], self.num_heads * self.head_size]
    )
    return add_norm(
      self.output_dense, self.output_norm, context, x, self.hidden_dropout,
      training, fused,
    )  # fmt: skip


class TransformerLayer(tf.Module):
  """One post-LayerNorm block: attention, then the feed-forward sublayer.

  Variables under ``<scope>/``: ``attention/...``, ``intermediate/dense``,
  ``output/dense``, ``output/LayerNorm``.
  """

  def __init__(self, config, scope):
    super().__init__(name=None)
    init = layers.truncated_normal(config.initializer_range)
    hidden, ffn = config.hidden_size, config.intermediate_size
    self.hidden_dropout = config.hidden_dropout_prob
    self.attention = SelfAttention(config, f"{scope}/attention")
    self.intermediate = layers.Dense(
      f"{scope}/intermediate/dense",
      hidden,
      ffn,
      activation=config.hidden_act,
      kernel_initializer=init,
    )
    self.output_dense = layers.Dense(
      f"{scope}/output/dense", ffn, hidden, kernel_initializer=init
    )
    self.output_norm = layers.LayerNorm(f"{scope}/output", hidden)

  def __call__(self, x, attention_bias, training, fused=False, taps=None):
    """Maps [batch, seq_len, hidden] to [batch, seq_len, hidden]; ``fused``
    as in `SelfAttention`."""
    attention_output = self.attention(x, attention_bias, training, fused, taps)
    hidden = self.intermediate(attention_output, fused)
    return add_norm(
      self.output_dense, self.output_norm, hidden, attention_output,
      self.hidden_dropout, training, fused,
    )  # fmt: skip


def attention_bias_from_mask(input_mask, ltr=False, rtl=False):
  """Additive attention bias, 0 where attention is allowed, -10000 elsewhere.

  Args:
    input_mask: [batch, seq_len] int, 1 for real tokens.
    ltr: also block attention to later positions (left-to-right model).
    rtl: also block attention to earlier positions (right-to-left model).

  Returns:
    float32 [batch, 1, 1 or seq_len, seq_len].
  """
  batch, seq_len = tf.unstack(tf.shape(input_mask))
  allowed = tf.reshape(tf.cast(input_mask, tf.float32), [batch, 1, 1, seq_len])
  if ltr or rtl:
    ones = tf.ones([seq_len, seq_len])
    causal = (
      tf.linalg.band_part(ones, -1, 0)
      if ltr
      else tf.linalg.band_part(ones, 0, -1)
    )
    allowed = allowed * causal
  return (1.0 - allowed) * -10000.0


class BertModel(tf.Module):
  """The ELECTRA/BERT transformer encoder.

  Args:
    config: a `BertConfig`.
    scope: variable-name prefix ("electra", "generator", "generator_ltr", ...).
    embedding_size: width E of the token embeddings (hidden_size when None).
    embeddings: an `Embeddings` module to share (tied embeddings, the official
      default for the generator); when None the model creates its own under
      ``<scope>/embeddings``.
    ltr / rtl: causal masking for Electric's two-tower generator.
    compute_dtype: tf.float32, or tf.bfloat16 / tf.float16 for mixed
      precision (variables stay float32; LayerNorm and softmax run in
      float32).
    fused_kernels: the hparam: "auto" runs the element-wise work between
      the matmuls as compiled kernels (`fused_sublayers`) where that pays
      and is possible, False always as TensorFlow's ops one by one (the
      two agree to float rounding; their dropout masks differ).

  Example:
    >>> from model import bert_config
    >>> config = bert_config.BertConfig(vocab_size=30, hidden_size=12,
    ...   num_hidden_layers=2, num_attention_heads=3, intermediate_size=20)
    >>> encoder = BertModel(config, fused_kernels=False)
    >>> ids = tf.constant([[2, 5, 7, 3]])
    >>> encoder(ids, tf.ones_like(ids), tf.zeros_like(ids)).shape
    TensorShape([1, 4, 12])
  """

  def __init__(
    self,
    config,
    scope="electra",
    embedding_size=None,
    embeddings=None,
    ltr=False,
    rtl=False,
    compute_dtype=tf.float32,
    fused_kernels="auto",
  ):
    super().__init__(name=None)
    config.validate()
    # decided once: the kernels need XLA on every device of the machine
    self.fused_kernels = fused_ops.available(fused_kernels)
    self.config = copy.deepcopy(config)
    self.scope = scope
    self.compute_dtype = compute_dtype
    self.ltr, self.rtl = ltr, rtl
    if embeddings is None:
      embeddings = Embeddings(
        config, scope, embedding_size or config.hidden_size
      )
    self.embeddings = embeddings
    self.embeddings_project = None
    if embeddings.embedding_size != config.hidden_size:
      self.embeddings_project = layers.Dense(
        f"{scope}/embeddings_project",
        embeddings.embedding_size,
        config.hidden_size,
        kernel_initializer=layers.glorot_uniform,
      )
    self.layers = [
      TransformerLayer(config, f"{scope}/encoder/layer_{i}")
      for i in range(config.num_hidden_layers)
    ]

  @property
  def embedding_table(self):
    """The word embedding table [vocab_size, E]."""
    return self.embeddings.word_embeddings

  def uses_fused_kernels(self, input_ids):
    """Whether a call on ``input_ids`` runs the compiled kernels: when
    they are on and the call is traced with a fixed shape (XLA compiles
    once per shape; eager calls, bucketed batches and serving signatures
    take the plain ops)."""
    return self.fused_kernels and fused_ops.shape_is_fixed(input_ids)

  def __call__(
    self, input_ids, input_mask, segment_ids, training=False, taps=None
  ):
    """Encodes a batch.

    Args:
      input_ids, input_mask, segment_ids: int [batch, seq_len].
      training: enables dropout.
      taps: an optional `LayerTaps` that collects every layer's states and
        attention scores (distillation's intermediate matches).

    Returns:
      The sequence output [batch, seq_len, hidden].
    """
    fused = self.uses_fused_kernels(input_ids)
    output = tf.cast(
      self.embeddings(input_ids, segment_ids, training, fused),
      self.compute_dtype,
    )
    if self.embeddings_project is not None:
      output = self.embeddings_project(output)
    bias = attention_bias_from_mask(input_mask, self.ltr, self.rtl)
    if taps is not None:
      taps.hidden.append(output)
    for layer in self.layers:
      output = layer(output, bias, training, fused, taps)
      if taps is not None:
        taps.hidden.append(output)
    return output


class LayerTaps:
  """What an encoder's layers computed, collected during one call.

  Attributes:
    hidden: [embeddings, layer 1, ..., layer L] states, each
      [batch, seq_len, hidden] (after embeddings_project, if any).
    attention: the pre-softmax attention scores of layers 1..L (scaled,
      without the mask's bias), each float32 [batch, heads, seq_len, seq_len].
  """

  def __init__(self):
    self.hidden = []
    self.attention = []


def variable_name(variable):
  """A variable's official name: its name without the ':0' suffix."""
  return variable.name.split(":")[0]


def variables_by_name(module):
  """All variables of ``module`` (shared ones once) as {official name: var}."""
  named = {}
  for variable in module.variables:
    name = variable_name(variable)
    if name in named and named[name] is not variable:
      raise ValueError(f"Two different variables are named {name!r}")
    named[name] = variable
  return named
