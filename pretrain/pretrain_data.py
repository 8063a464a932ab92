"""The model inputs of pretraining and helpers to update them."""

import collections

Inputs = collections.namedtuple(
    "Inputs", ["input_ids", "input_mask", "segment_ids", "masked_lm_positions",
               "masked_lm_ids", "masked_lm_weights"])


def features_to_inputs(features):
  """Builds `Inputs` from a dict of feature tensors (masking fields optional)."""
  return Inputs(
      input_ids=features["input_ids"],
      input_mask=features["input_mask"],
      segment_ids=features["segment_ids"],
      masked_lm_positions=features.get("masked_lm_positions"),
      masked_lm_ids=features.get("masked_lm_ids"),
      masked_lm_weights=features.get("masked_lm_weights"))


def get_updated_inputs(inputs, **kwargs):
  """A copy of ``inputs`` with the given fields replaced."""
  return inputs._replace(**kwargs)
