"""The transformer's hyperparameters, with the official fields and defaults
(``BertConfig`` of the official ``model/modeling.py``)."""

import copy
import json

import tensorflow as tf

# the largest value each size may take (well above any released model)
SIZE_LIMITS = {
  "vocab_size": 10_000_000,
  "hidden_size": 65_536,
  "num_hidden_layers": 1_000,
  "num_attention_heads": 4_096,
  "intermediate_size": 1_000_000,
  "max_position_embeddings": 1_000_000,
  "type_vocab_size": 1_000,
}


class BertConfig:
  """Transformer hyperparameters, with the official fields and defaults."""

  def __init__(
    self,
    vocab_size,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=512,
    type_vocab_size=2,
    initializer_range=0.02,
    attention_head_size=None,
  ):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range
    # None: hidden_size // num_attention_heads, as official; a head-pruned
    # model keeps its heads' size with fewer of them
    self.attention_head_size = attention_head_size

  @classmethod
  def from_dict(cls, json_object):
    """Builds a config from a dict; unknown keys are an error."""
    config = cls(vocab_size=None)
    for key, value in json_object.items():
      if key not in config.__dict__:
        raise ValueError(
          f"Unknown BertConfig field {key!r}; expected one of "
          f"{sorted(config.__dict__)}"
        )
      setattr(config, key, value)
    return config

  @classmethod
  def from_json_file(cls, json_file):
    with tf.io.gfile.GFile(json_file, "r") as reader:
      return cls.from_dict(json.loads(reader.read()))

  def to_dict(self):
    """The fields, as the official JSON (no attention_head_size unless
    heads were pruned)."""
    fields = copy.deepcopy(self.__dict__)
    if fields["attention_head_size"] is None:
      del fields["attention_head_size"]
    return fields

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

  def to_json(self, json_file):
    with tf.io.gfile.GFile(json_file, "w") as writer:
      writer.write(self.to_json_string())

  def validate(self):
    """Sizes must be positive integers within `SIZE_LIMITS`, and the
    embedding table must fit in memory: absurd values are named errors
    here, not an out-of-memory kill later."""
    for field, limit in SIZE_LIMITS.items():
      value = getattr(self, field)
      if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
      if not 1 <= value <= limit:
        raise ValueError(f"{field} is {value}; expected 1 to {limit}")
    for field in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      value = getattr(self, field)
      if not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{field} is {value!r}; expected 0 <= p < 1")
    size = self.attention_head_size
    if size is not None:
      if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(
          f"attention_head_size must be a positive integer or null, got "
          f"{size!r}"
        )
    elif self.hidden_size % self.num_attention_heads:
      raise ValueError(
        f"hidden_size ({self.hidden_size}) is not a multiple of "
        f"num_attention_heads ({self.num_attention_heads})"
      )

  @property
  def head_size(self):
    """The width of one attention head."""
    return self.attention_head_size or (
      self.hidden_size // self.num_attention_heads
    )
