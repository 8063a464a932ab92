"""The serving functions of one fine-tuned task: ids in, and text in.

Each class takes the encoder, the task's head and its `HeadSpec`-like
description (``kind``, ``labels``, ``value_scale``, ``value_shift``,
``segment_id``, ``pair``; see finetune/head_specs.py) and gives
`signatures`: the ids-in signature users who tokenize themselves call,
and ``serving_default``, which takes raw UTF-8 strings, tokenizes them in
the graph exactly as training did (truncation included) and returns what
the trainer predicts, decoded:
- `ClassifierServing`: ``text`` (and ``text_b`` for pairs) -> ``logits``,
  ``probabilities``, ``label`` (the label string), or for regression
  ``score`` (on the label's own scale);
- `TaggerServing`: ``text`` -> ``entity_type``, ``entity_text``,
  ``entity_start``, ``entity_end`` [batch, entities] (character offsets
  into ``text``, end inclusive; rows padded with "" and -1).
"""

import tensorflow as tf

from interop import compiled_encoder
from interop import serving_ops
from model import packing


def _strings(name):
  return tf.TensorSpec([None], tf.string, name=name)


def _ids(name):
  return tf.TensorSpec([None, None], tf.int32, name=name)


def regression_score(logits, spec):
  """[batch, 1] regression logits -> [batch] values on the label's scale."""
  return logits[:, 0] * spec.value_scale + spec.value_shift


class TaskServing(tf.Module):
  """What the serving classes share: encoder, head, spec and tokenizer."""

  def __init__(
    self, encode, head, spec, tokenizer, max_seq_length, compiled_lengths=()
  ):
    """
    Args:
      encode: (ids, mask, segments) -> [batch, seq_len, hidden].
      head: the task head: ([batch, seq_len, hidden], training) -> logits.
      spec: the head's description (see the module docstring).
      tokenizer: a `FastTokenizer` (None: no text-in signatures).
      max_seq_length: the longest packed input, as in training.
      compiled_lengths: single requests of up to these many tokens run an
        XLA-compiled encoder (`compiled_encoder`); empty: never.
    """
    super().__init__(name=None)
    self.compiled_lengths = compiled_encoder.check_lengths(
      list(compiled_lengths), max_seq_length
    )
    if self.compiled_lengths:
      encode = compiled_encoder.bucketed(encode, self.compiled_lengths)
    self.encode, self.head, self.spec = encode, head, spec
    self.tokenizer, self.max_seq_length = tokenizer, max_seq_length
    if tokenizer is not None:
      self.cls_id = tokenizer.vocab["[CLS]"]
      self.sep_id = tokenizer.vocab["[SEP]"]

  def logits(self, input_ids, input_mask, segment_ids):
    return self.head(self.encode(input_ids, input_mask, segment_ids), False)

  def text_inputs(self):
    """The names of ``serving_default``'s string inputs."""
    return ["text"]

  def serve(self, *texts):
    raise NotImplementedError

  def signatures(self):
    """{name: concrete function}: the ids-in ones, and ``serving_default``
    when there is a tokenizer."""
    sigs = self.ids_signatures()
    if self.tokenizer is not None:
      specs = [_strings(name) for name in self.text_inputs()]
      sigs["serving_default"] = tf.function(self.serve).get_concrete_function(
        *specs
      )
    return sigs


class ClassifierServing(TaskServing):
  """Sentence (pair) classification and regression."""

  def outputs(self, logits):
    """{"logits", "probabilities", "label"}, or with regression
    {"logits", "score"}."""
    if self.spec.kind == "regression":
      return {"logits": logits, "score": regression_score(logits, self.spec)}
    labels = tf.constant([str(label) for label in self.spec.labels])
    return {
      "logits": logits,
      "probabilities": tf.nn.softmax(logits),
      "label": tf.gather(labels, tf.argmax(logits, -1, output_type=tf.int32)),
    }

  def text_inputs(self):
    return ["text", "text_b"] if self.spec.pair else ["text"]

  def pack(self, texts, texts_b=None):
    tokens = self.tokenizer.tokenize_tensor(texts)
    if texts_b is None:
      return packing.pack_ragged(
        tokens, self.cls_id, self.sep_id, self.max_seq_length
      )
    return packing.pack_ragged_pair(
      tokens,
      self.tokenizer.tokenize_tensor(texts_b),
      self.cls_id,
      self.sep_id,
      self.max_seq_length,
    )

  def serve(self, text, text_b=None):
    return self.outputs(self.logits(*self.pack(text, text_b)))

  def ids_signatures(self):
    regression = self.spec.kind == "regression"

    def classify(input_ids, input_mask, segment_ids):
      logits = self.logits(input_ids, input_mask, segment_ids)
      outputs = self.outputs(logits)
      return {k: outputs[k] for k in ("logits", "score") if k in outputs}

    ids = [_ids("input_ids"), _ids("input_mask"), _ids("segment_ids")]
    sigs = {"classify": tf.function(classify).get_concrete_function(*ids)}
    if self.tokenizer is not None:
      keys = ("logits", "score") if regression else ("logits",)
      sigs["classify_text"] = tf.function(
        lambda text: {k: v for k, v in self.serve(text).items() if k in keys}
      ).get_concrete_function(_strings("text"))
    return sigs


class TaggerServing(TaskServing):
  """Token tagging (NER): entities with character offsets."""

  def tag_logits(self, input_ids, input_mask):
    segment_ids = input_mask * self.spec.segment_id
    return self.logits(input_ids, input_mask, segment_ids)

  def ids_signatures(self):
    function = tf.function(
      lambda input_ids, input_mask: {
        "logits": self.tag_logits(input_ids, input_mask)
      }
    )
    return {
      "tag": function.get_concrete_function(
        _ids("input_ids"), _ids("input_mask")
      )
    }

  def serve(self, text):
    ids, chars = serving_ops.char_tokens(
      self.tokenizer, text, self.max_seq_length - 2
    )
    input_ids, input_mask, _ = packing.pack_ragged(
      ids, self.cls_id, self.sep_id, self.max_seq_length
    )
    # the character of each token's position: -1 on [CLS], [SEP], padding
    cls_column = tf.RaggedTensor.from_tensor(-tf.ones_like(input_ids[:, :1]))
    chars = tf.concat([cls_column, chars], axis=1)
    chars = chars.to_tensor(-1, shape=tf.shape(input_ids))
    predictions = tf.argmax(
      self.tag_logits(input_ids, input_mask), -1, output_type=tf.int32
    )
    length = tf.reduce_max(tf.strings.length(text, unit="UTF8_CHAR"))
    tags = serving_ops.char_tags(predictions, chars, tf.maximum(length, 1))
    prefix_of, kind_of, types = serving_ops.tag_layout(self.spec.labels)
    starts, ends, kinds = serving_ops.decode_spans(tags, prefix_of, kind_of)
    starts, ends = starts.to_tensor(-1), ends.to_tensor(-1)
    names = tf.gather(tf.constant(types), kinds)
    return {
      "entity_type": names.to_tensor(""),
      "entity_text": serving_ops.entity_texts(text, starts, ends),
      "entity_start": starts,
      "entity_end": ends,
    }
