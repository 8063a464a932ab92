"""Attention heads and FFN neurons cut from an encoder's checkpoint tensors.

Importance is Michel et al.'s (2019, "Are Sixteen Heads Really Better
than One?"): the size of the loss's derivative with respect to a gate
that scales a head's (or an FFN neuron's) output, summed over batches.
The gate need not be built: scaling a head's output scales its rows of the
attention output kernel, so the derivative is the sum of that kernel's
rows times their gradient, and an FFN neuron's the same with its row of
the FFN output kernel. Uniform counts per layer keep the model one shape:
``num_attention_heads`` fewer heads of the same ``attention_head_size``,
a narrower ``intermediate_size``.

Example:
  >>> kernel = np.ones([4, 3]); gradient = np.arange(12.0).reshape(4, 3)
  >>> head_scores(kernel, gradient, heads=2)  # rows 0-1 and 2-3
  array([15., 51.])
  >>> strongest(np.array([0.3, 0.1, 0.9]), 2)
  [0, 2]
"""

import numpy as np


def layer_scopes(layer, encoder="electra"):
  """The official dense layers of one transformer layer, by role."""
  base = f"{encoder}/encoder/layer_{layer}"
  return {
    "query": f"{base}/attention/self/query",
    "key": f"{base}/attention/self/key",
    "value": f"{base}/attention/self/value",
    "attention_output": f"{base}/attention/output/dense",
    "intermediate": f"{base}/intermediate/dense",
    "output": f"{base}/output/dense",
  }


def head_scores(kernel, gradient, heads):
  """|d loss / d gate| of each head [heads], from the attention output
  kernel [heads * head_size, hidden] and its gradient."""
  gates = (np.asarray(kernel) * np.asarray(gradient)).reshape(heads, -1)
  return np.abs(gates.sum(1))


def neuron_scores(kernel, gradient):
  """|d loss / d gate| of each FFN neuron [ffn], from the FFN output
  kernel [ffn, hidden] and its gradient."""
  return np.abs((np.asarray(kernel) * np.asarray(gradient)).sum(1))


def strongest(scores, count):
  """The indices of the ``count`` largest scores, ascending (ties: the
  lower index)."""
  order = np.argsort(-np.asarray(scores), kind="stable")
  return sorted(int(i) for i in order[:count])


def head_columns(heads, head_size):
  """The kernel columns [len(heads) * head_size] of the given heads."""
  return np.concatenate(
    [np.arange(h * head_size, (h + 1) * head_size) for h in heads]
  )


def prune_layer(tensors, layer, heads, neurons, head_size):
  """``tensors`` ({official name: array}) with layer ``layer`` cut to the
  given heads and FFN neurons (indices, ascending); the rest unchanged.

  Query, key and value keep the heads' columns, the attention output
  kernel their rows; the FFN's first dense keeps the neurons' columns,
  its second their rows. Biases and LayerNorms of width hidden stay.
  """
  scopes = layer_scopes(layer)
  columns = head_columns(heads, head_size)
  pruned = dict(tensors)
  for role in ("query", "key", "value"):
    pruned[f"{scopes[role]}/kernel"] = tensors[f"{scopes[role]}/kernel"][
      :, columns
    ]
    pruned[f"{scopes[role]}/bias"] = tensors[f"{scopes[role]}/bias"][columns]
  name = f"{scopes['attention_output']}/kernel"
  pruned[name] = tensors[name][columns]
  name = f"{scopes['intermediate']}/kernel"
  pruned[name] = tensors[name][:, neurons]
  name = f"{scopes['intermediate']}/bias"
  pruned[name] = tensors[name][neurons]
  name = f"{scopes['output']}/kernel"
  pruned[name] = tensors[name][neurons]
  return pruned


def check_target(heads, ffn_width, bert_config):
  """A clear error for a target that is not a smaller model of this one."""
  for flag, value, full in (
    ("--heads", heads, bert_config.num_attention_heads),
    ("--ffn-width", ffn_width, bert_config.intermediate_size),
  ):
    if value is not None and not 0 < value <= full:
      raise ValueError(
        f"{flag} {value}: expected 1 to {full} (the model has {full} per layer)"
      )
