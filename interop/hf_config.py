"""transformers' ELECTRA ``config.json`` <-> our hyperparameters.

An ``ElectraConfig`` names the transformer's shape the way our `BertConfig`
does, plus ``embedding_size``. Reading one gives the hparams that describe
the model (`shape_hparams`); writing one (`hf_config`) describes ours.
"""

import json
import os

from model import bert_config
from model import model_sizes

# BertConfig fields that an ElectraConfig spells the same way
_SHAPE_FIELDS = (
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "hidden_act",
  "max_position_embeddings",
  "type_vocab_size",
)
_ACTIVATIONS = ("gelu", "relu", "tanh")
# hparams that describe the model's shape; a user's value wins
SHAPE_HPARAMS = (
  "model_size",
  "model_hparam_overrides",
  "embedding_size",
  "vocab_size",
  "generator_hidden_size",
  "generator_layers",
)


class HFConfigError(ValueError):
  """A config.json we cannot use; the message names the file."""


def _check_sizes(config, path):
  """Each size a positive integer within bert_config.SIZE_LIMITS."""
  limits = dict(bert_config.SIZE_LIMITS, embedding_size=65_536)
  for field, limit in limits.items():
    if field == "embedding_size" and field not in config:
      continue
    value = config.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
      raise HFConfigError(f"{path}: {field} must be an integer, got {value!r}")
    if not 1 <= value <= limit:
      raise HFConfigError(f"{path}: {field} is {value}; expected 1 to {limit}")


def read_config(directory):
  """The checked ``config.json`` of a transformers ELECTRA directory."""
  path = os.path.join(directory, "config.json")
  try:
    with open(path, encoding="utf-8") as f:
      config = json.load(f)
  except (OSError, ValueError) as e:
    raise HFConfigError(f"{path} cannot be read as JSON ({e})") from None
  if config.get("model_type") != "electra":
    raise HFConfigError(
      f"{path} has model_type {config.get('model_type')!r}; expected 'electra'"
    )
  _check_sizes(config, path)
  if config.get("hidden_act", "gelu") not in _ACTIVATIONS:
    raise HFConfigError(
      f"{path}: hidden_act {config['hidden_act']!r} is not supported "
      f"(expected one of {_ACTIVATIONS})"
    )
  if abs(config.get("layer_norm_eps", 1e-12) - 1e-12) > 1e-15:
    raise HFConfigError(
      f"{path}: layer_norm_eps {config['layer_norm_eps']} is not the "
      f"official 1e-12 that our LayerNorm uses"
    )
  if config.get("position_embedding_type", "absolute") != "absolute":
    raise HFConfigError(
      f"{path}: position_embedding_type "
      f"{config['position_embedding_type']!r} is not supported (absolute)"
    )
  return config


def _closest_size(hidden, layers):
  for name, size in model_sizes.MODEL_SIZES.items():
    if (size["hidden_size"], size["num_hidden_layers"]) == (hidden, layers):
      return name
  return "base"


def _generator_fractions(disc, gen, where):
  hidden = gen["hidden_size"] / disc["hidden_size"]
  layers = gen["num_hidden_layers"] / disc["num_hidden_layers"]
  expected = {
    "intermediate_size": 4 * gen["hidden_size"],
    "num_attention_heads": max(1, gen["hidden_size"] // 64),
  }
  for field, value in expected.items():
    if gen.get(field, value) != value:
      raise HFConfigError(
        f"{where}: the generator's {field} is {gen[field]}; the official "
        f"generator shape (which ours follows) needs {value}"
      )
  return {"generator_hidden_size": hidden, "generator_layers": layers}


def shape_hparams(disc_config, gen_config=None, where=""):
  """The pretraining/fine-tuning hparams that rebuild these models' shapes.

  Args:
    disc_config: the discriminator's (or encoder's) config dict.
    gen_config: the generator's config dict, when one is given.
    where: the directory, for messages.
  """
  shape = {field: disc_config[field] for field in _SHAPE_FIELDS}
  hparams = {
    "model_size": _closest_size(
      shape["hidden_size"], shape["num_hidden_layers"]
    ),
    "model_hparam_overrides": shape,
    "embedding_size": disc_config.get("embedding_size", shape["hidden_size"]),
    "vocab_size": disc_config["vocab_size"],
  }
  if gen_config is not None:
    hparams.update(_generator_fractions(disc_config, gen_config, where))
  return hparams


def hf_config(bert_config, embedding_size, architecture, **extra):
  """A transformers ``config.json`` dict for one of our `BertConfig`s."""
  width = bert_config.num_attention_heads * bert_config.head_size
  if width != bert_config.hidden_size:
    raise ValueError(
      f"{bert_config.num_attention_heads} attention heads of "
      f"{bert_config.head_size} (a head-pruned model): transformers' ELECTRA "
      f"makes its heads hidden_size / num_attention_heads wide, so it cannot "
      f"hold this model; export it with export_savedmodel.py or "
      f"export_litert.py"
    )
  config = {field: getattr(bert_config, field) for field in _SHAPE_FIELDS}
  config.update(
    architectures=[architecture],
    model_type="electra",
    vocab_size=bert_config.vocab_size,
    embedding_size=embedding_size,
    hidden_dropout_prob=bert_config.hidden_dropout_prob,
    attention_probs_dropout_prob=bert_config.attention_probs_dropout_prob,
    initializer_range=bert_config.initializer_range,
    layer_norm_eps=1e-12,
    position_embedding_type="absolute",
    pad_token_id=0,
    summary_type="first",
    summary_use_proj=True,
    summary_activation="gelu",
    summary_last_dropout=0.1,
  )
  config.update(extra)
  return config
