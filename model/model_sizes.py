"""Model sizes: the discriminator and generator `BertConfig` of a config."""

from model import bert_config as bert_config_lib

# hidden size and depth of each named size, as the official code; "tiny" is
# CLUE's Chinese ELECTRA-tiny (TinyBERT shape), whose heads and FFN width do
# not follow the usual hidden // 64 and 4 * hidden rule.
MODEL_SIZES = {
  "tiny": {
    "hidden_size": 312,
    "num_hidden_layers": 4,
    "num_attention_heads": 12,
    "intermediate_size": 1200,
  },
  "small": {"hidden_size": 256, "num_hidden_layers": 12},
  "base": {"hidden_size": 768, "num_hidden_layers": 12},
  "large": {"hidden_size": 1024, "num_hidden_layers": 24},
}


def get_bert_config(config):
  """The discriminator's `BertConfig` for a pretraining/finetuning config.

  Heads default to hidden // 64 and the FFN to 4 * hidden, computed after
  `model_hparam_overrides` is applied once and then overridden again by it,
  exactly as the official `get_bert_config`; in debug mode, the official
  debug-size model. A ``max_seq_length`` above the position table is an
  error naming both.
  """
  if config.model_size not in MODEL_SIZES:
    raise ValueError(
      f"Unknown model_size {config.model_size!r}; expected one "
      f"of {sorted(MODEL_SIZES)}"
    )
  size = MODEL_SIZES[config.model_size]
  args = {
    "hidden_size": size["hidden_size"],
    "num_hidden_layers": size["num_hidden_layers"],
    "vocab_size": config.vocab_size,
  }
  args.update(config.model_hparam_overrides)
  args["num_attention_heads"] = size.get(
    "num_attention_heads", max(1, args["hidden_size"] // 64)
  )
  args["intermediate_size"] = size.get(
    "intermediate_size", 4 * args["hidden_size"]
  )
  args.update(config.model_hparam_overrides)
  bert_config = bert_config_lib.BertConfig.from_dict(args)
  if getattr(config, "debug", False):
    shrink_for_debug(bert_config)
  max_seq_length = getattr(config, "max_seq_length", 0)
  if max_seq_length > bert_config.max_position_embeddings:
    raise ValueError(
      f"hparam 'max_seq_length' ({max_seq_length}) is "
      f"above max_position_embeddings "
      f"({bert_config.max_position_embeddings})"
    )
  return bert_config


def shrink_for_debug(bert_config):
  """The official debug-mode model: 3 layers, hidden 144, 4 heads."""
  bert_config.num_hidden_layers = 3
  bert_config.hidden_size = 144
  bert_config.intermediate_size = 144 * 4
  bert_config.num_attention_heads = 4
  return bert_config


def get_generator_config(config, bert_config):
  """The generator's `BertConfig`: fractions of the discriminator's size.

  As official: hidden = round(hidden * generator_hidden_size), layers =
  round(layers * generator_layers), FFN = 4 * hidden, heads = hidden // 64
  (at least 1).
  """
  gen_config = bert_config_lib.BertConfig.from_dict(bert_config.to_dict())
  gen_config.hidden_size = int(
    round(bert_config.hidden_size * config.generator_hidden_size)
  )
  gen_config.num_hidden_layers = int(
    round(bert_config.num_hidden_layers * config.generator_layers)
  )
  gen_config.intermediate_size = 4 * gen_config.hidden_size
  gen_config.num_attention_heads = max(1, gen_config.hidden_size // 64)
  gen_config.attention_head_size = None  # a pruned discriminator's only
  return gen_config
