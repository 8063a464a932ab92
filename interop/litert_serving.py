"""The text-in model of one classification or tagging task, as LiteRT
runs it.

`LiteClassifier` is the `text_serving.ClassifierServing` contract
(``text``, and ``text_b`` for pairs, as [batch] strings; ``probabilities``
[batch, labels], or ``score`` [batch] for regression) and `LiteTagger`
the tags its `TaggerServing` decodes, written only with ops LiteRT's
interpreter has: tensorflow-text's tokenizer kernels
(`litert_tokenizer`), the dense packer (`packing.pack_dense`) and the
encoder's plain path. `convert` turns it
into a ``.tflite`` flatbuffer, float32 or quantized (`QUANTIZATIONS`).

Example (the parts as `export_litert.build_lite_module` builds them):
  >>> lite = LiteClassifier(model, encode, head, spec, tokenizer, 128)
  >>> flatbuffer = convert(lite, "dynamic")
  >>> LiteRunner(flatbuffer)(text=["今天天气很好"])["probabilities"]
"""

import tempfile

import numpy as np
import tensorflow as tf

from interop import text_serving
from model import litert_tokenizer
from model import packing

# none: float32; dynamic: int8 weights, float activations (dynamic-range);
# int8: int8 weights and activations, calibrated on representative texts
QUANTIZATIONS = ("none", "dynamic", "int8")


class LiteTask(tf.Module):
  """What the LiteRT modules share: model, encoder, head and tokenizer."""

  def __init__(self, model, encode, head, spec, tokenizer, max_seq_length):
    """
    Args:
      model: the built model ``encode`` reads (kept, so that saving finds
        its variables).
      encode: (ids, mask, segments) -> [batch, seq_len, hidden] float32.
      head: the task head: ([batch, seq_len, hidden], training) -> logits.
      spec: the head's `HeadSpec` (kind, labels, value_scale, pair, ...).
      tokenizer: a `litert_tokenizer.LiteTokenizer` (`LiteCharTokenizer`
        for tagging).
      max_seq_length: the longest packed input, as in training.
    """
    super().__init__(name=None)
    self.model, self.encode, self.head, self.spec = model, encode, head, spec
    self.tokenizer, self.max_seq_length = tokenizer, max_seq_length
    self.cls_id = tokenizer.vocab["[CLS]"]
    self.sep_id = tokenizer.vocab["[SEP]"]

  def text_inputs(self):
    """The names of the string inputs."""
    return ["text"]

  def concrete_function(self):
    specs = [
      tf.TensorSpec([None], tf.string, name=n) for n in self.text_inputs()
    ]
    return tf.function(self.serve).get_concrete_function(*specs)


class LiteClassifier(LiteTask):
  """Sentence (pair) classification and regression from raw text."""

  def text_inputs(self):
    """The names of the string inputs."""
    return ["text", "text_b"] if self.spec.pair else ["text"]

  def _tokens(self, texts):
    """([batch, width] int32 ids padded with 0, [batch] int32 lengths)."""
    ragged = self.tokenizer.tokenize_tensor(texts)
    lengths = tf.cast(ragged.row_lengths(), tf.int32)
    return ragged.to_tensor(0), lengths

  def serve(self, text, text_b=None):
    """[batch] strings (two for pairs) -> {"probabilities"} or {"score"}."""
    ids_a, len_a = self._tokens(text)
    ids_b, len_b = self._tokens(text_b) if text_b is not None else (None, None)
    ids, mask, segments = packing.pack_dense(
      ids_a, len_a, ids_b, len_b, self.cls_id, self.sep_id,
      self.max_seq_length,
    )  # fmt: skip
    logits = self.head(self.encode(ids, mask, segments), False)
    if self.spec.kind == "regression":
      return {"score": text_serving.regression_score(logits, self.spec)}
    return {"probabilities": tf.nn.softmax(logits)}

  def concrete_function(self):
    specs = [
      tf.TensorSpec([None], tf.string, name=n) for n in self.text_inputs()
    ]
    return tf.function(self.serve).get_concrete_function(*specs)


class LiteTagger(LiteTask):
  """Token tagging (NER) from raw text: the tag of every character.

  ``text`` [batch] strings -> ``tags`` [batch, chars] int32, the index (in
  the task's tag list) of the tag predicted on each character's first
  token, as the SavedModel's ``serving_default`` reads them before it
  decodes entities; "O" (0) for characters without a token (whitespace,
  control characters, beyond max_seq_length) and for the padding of
  shorter texts. Entity spans follow from the tags as the trainer decodes
  them (`finetune.tagging.tags_to_spans`; docs/checkpoints.md).
  """

  def serve(self, text):
    """[batch] strings -> {"tags": [batch, chars] int32}."""
    ids, lengths, chars, num_chars = self.tokenizer.char_tokens(
      text, self.max_seq_length - 2
    )
    input_ids, mask, _ = packing.pack_dense(
      ids, lengths, None, None, self.cls_id, self.sep_id, self.max_seq_length
    )
    logits = self.head(
      self.encode(input_ids, mask, mask * self.spec.segment_id), False
    )
    predictions = tf.argmax(logits, -1, output_type=tf.int32)
    # position p > 0 holds token p - 1; [CLS], [SEP] and padding go to a
    # spare column, cut off below
    width = tf.maximum(tf.reduce_max(num_chars), 1)
    # (packed rows are the longest text's tokens + 2 wide)
    at = tf.pad(chars, [[0, 0], [1, 1]], constant_values=-1)
    at = tf.where(at >= 0, at, width)
    rows = tf.zeros_like(at) + tf.expand_dims(tf.range(tf.shape(at)[0]), 1)
    tags = tf.scatter_nd(
      tf.stack([rows, at], axis=-1),
      predictions,
      tf.stack([tf.shape(at)[0], width + 1]),
    )
    return {"tags": tags[:, :width]}


# the LiteRT module of each task kind
MODULES = {
  "classification": LiteClassifier,
  "regression": LiteClassifier,
  "tagging": LiteTagger,
}


def lite_module(model, encode, head, spec, vocab, do_lower_case, strip_accents,
                max_seq_length):  # fmt: skip
  """The task's LiteRT module with its tokenizer; a clear error for the
  kinds LiteRT cannot serve."""
  if spec.kind not in MODULES:
    raise ValueError(
      f"LiteRT export serves classification, regression and tagging tasks; "
      f"this task is {spec.kind} (export it with export_savedmodel.py)"
    )
  kind = MODULES[spec.kind]
  make = (
    litert_tokenizer.LiteCharTokenizer
    if kind is LiteTagger
    else litert_tokenizer.LiteTokenizer
  )
  tokenizer = make(vocab, do_lower_case, strip_accents)
  return kind(model, encode, head, spec, tokenizer, max_seq_length)


def convert(module, quantize="none", representative_texts=None):
  """The ``.tflite`` flatbuffer of ``module``'s ``serving_default``.

  Args:
    module: a `LiteClassifier`.
    quantize: one of `QUANTIZATIONS`.
    representative_texts: for "int8", a list of requests (tuples of
      strings, one per text input) the activations are calibrated on.

  Returns:
    bytes.
  """
  if quantize not in QUANTIZATIONS:
    raise ValueError(
      f"--quantize {quantize!r}: expected one of {', '.join(QUANTIZATIONS)}"
    )
  # through a SavedModel: the converter keeps a SavedModel's signature
  # names (a concrete function's would come out unnamed)
  with tempfile.TemporaryDirectory() as staging:
    tf.saved_model.save(
      module,
      staging,
      signatures={"serving_default": module.concrete_function()},
    )
    converter = tf.lite.TFLiteConverter.from_saved_model(staging)
    return _convert(converter, module, quantize, representative_texts)


def _convert(converter, module, quantize, representative_texts):
  # tensorflow-text's tokenizer kernels are custom ops the interpreter gets
  # from tensorflow_text.tflite_registrar
  converter.allow_custom_ops = True
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if quantize != "none":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == "int8":
    if not representative_texts:
      raise ValueError("--quantize int8 needs representative texts")
    names = module.text_inputs()

    def samples():
      for request in representative_texts:
        yield {
          name: tf.constant([text], tf.string)
          for name, text in zip(names, request)
        }

    converter.representative_dataset = samples
    # calibration runs the model, tokenizer included: the calibrator needs
    # the kernels too (the converter's only hook for them is this field)
    from tensorflow_text import tflite_registrar

    converter.target_spec._experimental_custom_op_registerers = list(
      tflite_registrar.SELECT_TFTEXT_OPS
    )
  return converter.convert()


class LiteRunner:
  """A ``.tflite`` text model's ``serving_default``, with tensorflow-text's
  kernels registered: `tf.lite`'s interpreter, or ai-edge-litert's when
  ``runtime="ai_edge_litert"`` (an optional package)."""

  def __init__(self, model, num_threads=None, runtime="tf"):
    """
    Args:
      model: a path to a ``.tflite`` file, or its bytes.
      num_threads: the interpreter's threads (None: its default).
      runtime: "tf" or "ai_edge_litert".
    """
    from tensorflow_text import tflite_registrar

    if runtime == "ai_edge_litert":
      from ai_edge_litert.interpreter import InterpreterWithCustomOps
    elif runtime == "tf":
      from tensorflow.lite.python.interpreter import InterpreterWithCustomOps
    else:
      raise ValueError(f"runtime {runtime!r}: expected tf or ai_edge_litert")
    source = (
      {"model_content": model}
      if isinstance(model, bytes)
      else {"model_path": model}
    )
    self.interpreter = InterpreterWithCustomOps(
      custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS,
      num_threads=num_threads,
      **source,
    )
    self.runner = self.interpreter.get_signature_runner("serving_default")

  def __call__(self, **texts):
    """{input name: list of str} -> {output name: numpy array}."""
    return self.runner(
      **{
        name: np.array([t.encode("utf-8") for t in values], dtype=object)
        for name, values in texts.items()
      }
    )
