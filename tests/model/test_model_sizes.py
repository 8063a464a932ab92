"""Model sizes and the generator size rule."""

import pytest

from conftest import tiny_config
from model import model_sizes
from training import progress


@pytest.mark.parametrize(
  "size,hidden,layers,heads,ffn",
  [
    ("small", 256, 12, 4, 1024),
    ("base", 768, 12, 12, 3072),
    ("large", 1024, 24, 16, 4096),
    ("tiny", 312, 4, 12, 1200),
  ],
)
def test_named_sizes(size, hidden, layers, heads, ffn):
  config = tiny_config(
    model_size=size, model_hparam_overrides={}, vocab_size=21128
  )
  bert = model_sizes.get_bert_config(config)
  assert (
    bert.hidden_size,
    bert.num_hidden_layers,
    bert.num_attention_heads,
    bert.intermediate_size,
    bert.vocab_size,
  ) == (hidden, layers, heads, ffn, 21128)


def test_overrides_recompute_heads_and_ffn():
  config = tiny_config(
    model_size="small", model_hparam_overrides={"hidden_size": 512}
  )
  bert = model_sizes.get_bert_config(config)
  assert (bert.num_attention_heads, bert.intermediate_size) == (8, 2048)
  config = tiny_config(
    model_hparam_overrides={"hidden_size": 312, "num_attention_heads": 12}
  )
  assert model_sizes.get_bert_config(config).num_attention_heads == 12


def test_unknown_size_is_rejected():
  config = tiny_config()
  config.model_size = "huge"
  with pytest.raises(ValueError, match="huge"):
    model_sizes.get_bert_config(config)


def test_generator_config_as_official():
  config = tiny_config(
    model_size="tiny",
    model_hparam_overrides={},
    generator_hidden_size=0.25,
    generator_layers=0.5,
  )
  bert = model_sizes.get_bert_config(config)
  gen = model_sizes.get_generator_config(config, bert)
  assert (
    gen.hidden_size,
    gen.num_hidden_layers,
    gen.num_attention_heads,
    gen.intermediate_size,
  ) == (78, 2, 1, 312)
  assert bert.hidden_size == 312  # the discriminator config is not modified


def test_secs_to_str():
  assert progress.secs_to_str(3723) == "1:02:03"
  assert progress.secs_to_str(123) == "2:03"
  assert progress.secs_to_str(7) == "7"
