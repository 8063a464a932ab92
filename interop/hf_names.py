"""Variable names of transformers' ELECTRA <-> the official (TF1) names.

transformers (PyTorch) names a discriminator's query kernel
``electra.encoder.layer.0.attention.self.query.weight`` and stores it as
[out, in]; the official name is
``electra/encoder/layer_0/attention/self/query/kernel`` with [in, out].
LayerNorm ``weight``/``bias`` are ``gamma``/``beta``; the discriminator's
``dense_prediction`` is ``dense_1``; the generator's ``generator_lm_head.bias``
is ``generator_predictions/output_bias`` (its weight is the tied word
embeddings). An ``ElectraForMaskedLM`` keeps its encoder under ``electra.``:
imported as a generator, that becomes ``generator/``.
"""

import re

import numpy as np

_HEADS = ("discriminator_predictions", "generator_predictions")
_LAYER = re.compile(r"layer_(\d+)$")
# non-persistent buffers older transformers saved with the weights
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def official_to_torch(name, scope="electra"):
  """The transformers name of an official one, and whether to transpose.

  Args:
    name: an official name, e.g. ``generator/encoder/layer_3/output/dense/
      kernel``.
    scope: the official scope that becomes transformers' ``electra.``
      ("generator" when writing an ``ElectraForMaskedLM``).

  Returns:
    (torch name, transpose) or None for a name outside the model and heads.
  """
  if name == "generator_predictions/output_bias":
    return "generator_lm_head.bias", False
  parts = name.split("/")
  if parts[0] == scope:
    parts[0] = "electra"
  elif parts[0] not in _HEADS:
    return None
  parts = [
    f"layer.{_LAYER.match(p).group(1)}" if _LAYER.match(p) else p for p in parts
  ]
  if parts[:2] == ["discriminator_predictions", "dense_1"]:
    parts[1] = "dense_prediction"
  leaf = parts[-1]
  if leaf.endswith("_embeddings"):
    return ".".join(parts + ["weight"]), False
  torch_leaf = {"kernel": "weight", "gamma": "weight", "beta": "bias"}
  return ".".join(parts[:-1] + [torch_leaf.get(leaf, leaf)]), leaf == "kernel"


def torch_to_official(name, scope="electra"):
  """The official name of a transformers one, and whether to transpose.

  Returns:
    (official name, transpose) or None when the name is not part of the
    encoder or the pretraining heads (a task head, a buffer, a tied weight).
  """
  if name == "generator_lm_head.bias":
    return "generator_predictions/output_bias", False
  parts = name.split(".")
  if parts[0] == "electra":
    parts[0] = scope
  elif parts[0] not in _HEADS:
    return None
  merged = []
  for part in parts:
    if part.isdigit() and merged and merged[-1] == "layer":
      merged[-1] = f"layer_{part}"
    else:
      merged.append(part)
  if merged[:2] == ["discriminator_predictions", "dense_prediction"]:
    merged[1] = "dense_1"
  if len(merged) < 3:
    return None
  parent, leaf = merged[-2], merged[-1]
  if parent.endswith("_embeddings") and leaf == "weight":
    return "/".join(merged[:-1]), False
  if parent == "LayerNorm" and leaf in ("weight", "bias"):
    return "/".join(
      merged[:-1] + [{"weight": "gamma"}.get(leaf, "beta")]
    ), False
  if leaf in ("weight", "bias"):
    return "/".join(merged[:-1] + [leaf.replace("weight", "kernel")]), (
      leaf == "weight"
    )
  return None


def keras_to_torch(name, array):
  """A transformers TF (Keras h5) weight as its PyTorch name and layout.

  ``electra/encoder/layer_._0/attention/self/query/kernel`` [in, out]
  becomes ``electra.encoder.layer.0.attention.self.query.weight`` [out, in];
  ``gamma``/``beta`` become ``weight``/``bias``, an embedding table's
  ``weight``/``embeddings`` becomes ``weight``.
  """
  parts = name.replace("_._", ".").split("/")
  leaf = parts[-1]
  if leaf == "kernel":
    return ".".join(parts[:-1] + ["weight"]), np.transpose(array)
  leaf = {"gamma": "weight", "beta": "bias", "embeddings": "weight"}.get(
    leaf, leaf
  )
  return ".".join(parts[:-1] + [leaf]), array


def is_buffer(torch_name):
  return torch_name.endswith(BUFFERS)
