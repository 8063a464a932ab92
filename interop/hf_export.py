"""Writing our models as transformers ELECTRA directories (no torch needed).

Each directory gets ``config.json``, ``model.safetensors`` and, with a
vocabulary, ``vocab.txt`` plus ``tokenizer_config.json`` (so that
``AutoTokenizer`` loads it):

- the discriminator as ``ElectraForPreTraining``;
- the generator as ``ElectraForMaskedLM``, with the shared token embeddings
  written into it (its output layer is tied to them);
- a classification or regression head as
  ``ElectraForSequenceClassification``, a tagging head as
  ``ElectraForTokenClassification`` (with ``id2label``) and a
  multiple-choice head as ``ElectraForMultipleChoice``, made to give the
  trainer's outputs on the inputs transformers feeds by default (a
  regression output on the label's own scale; a tagging model's constant
  segment folded into the default segment row);
- an encoder without heads as ``ElectraModel``.
"""

import json
import math
import os
import shutil
import tempfile

import numpy as np

from interop import hf_config
from interop import hf_names
from interop import weight_files

TOKEN_TYPE_TABLE = "electra.embeddings.token_type_embeddings.weight"
# what the exported config.json says about the inputs a model expects
INPUT_NOTES = {
  "classification": (
    "token_type_ids as the tokenizer gives them: 0 on the first text, 1 on "
    "the second of a pair"
  ),
  "regression": (
    "token_type_ids as the tokenizer gives them; the output is the value on "
    "the label's own scale (the trainer's normalisation is folded in)"
  ),
  "multiple_choice": (
    "input_ids [batch, options, seq_len], each option packed [CLS] context "
    "[SEP] question option [SEP] (token_type_ids 0, then 1), the context "
    "cut first; pass only a question's real options"
  ),
  "tagging": (
    "the trainer fed token_type_ids 1 on every token; the segment-1 "
    "embedding is folded into row 0, so the default token_type_ids (all 0) "
    "give the trainer's logits. The trainer tokenizes character by "
    "character: a run of Latin letters or digits is one token here but "
    "several there"
  ),
}

# the classifier's dense input lies at least this far above zero, where
# GELU(x) == x in float32 (1 - Phi(5.5) is below half an ulp of 1)
_GELU_IDENTITY_FROM = 5.5


def torch_state(tensors, scope="electra", prefixes=None):
  """{transformers name: array} of the official ``tensors`` under prefixes.

  Args:
    tensors: {official name: array}.
    scope: the official scope written as ``electra.``.
    prefixes: official name prefixes to take (all mapped names when None).
  """
  state = {}
  for name, array in tensors.items():
    if prefixes is not None and not name.startswith(tuple(prefixes)):
      continue
    mapped = hf_names.official_to_torch(name, scope)
    if mapped is not None:
      torch_name, transpose = mapped
      array = np.asarray(array, np.float32)
      state[torch_name] = np.transpose(array) if transpose else array
  return state


def generator_state(tensors):
  """The generator's weights; shared embeddings become its own."""
  state = torch_state(
    tensors, "generator", ("generator/", "generator_predictions/")
  )
  if not any(n.startswith("generator/embeddings/") for n in tensors):
    state.update(torch_state(tensors, "electra", ("electra/embeddings/",)))
  return state


def _identity_shift(tensors, hidden):
  """A shift c with LayerNorm output + c >= 5.5 for every possible input.

  The last LayerNorm's normalised values lie within +-sqrt(hidden - 1), so
  its outputs lie within |gamma| * sqrt(hidden - 1) + |beta|.
  """
  layers = [n for n in tensors if n.endswith("/output/LayerNorm/gamma")]
  last = max(layers, key=lambda n: int(n.split("layer_")[1].split("/")[0]))
  gamma = np.abs(tensors[last])
  beta = np.abs(tensors[last.replace("gamma", "beta")])
  bound = float(np.max(gamma * math.sqrt(hidden - 1) + beta))
  return bound + _GELU_IDENTITY_FROM


def classifier_state(tensors, task):
  """``ElectraForSequenceClassification`` weights for our one-dense head.

  transformers' head is dense -> GELU -> out_proj on [CLS]; ours (the
  official one) is a single dense layer. We write dense = identity with
  bias c and fold -c into out_proj's bias: GELU is the identity (exactly,
  in float32) on inputs above 5.5, and `_identity_shift` picks c so that
  every [CLS] vector the encoder can produce lands there.
  """
  kernel = np.asarray(tensors[f"task_specific/{task}/dense/kernel"], np.float32)
  bias = np.asarray(tensors[f"task_specific/{task}/dense/bias"], np.float32)
  hidden = kernel.shape[0]
  shift = _identity_shift(tensors, hidden)
  state = torch_state(tensors, "electra", ("electra/",))
  state["classifier.dense.weight"] = np.eye(hidden, dtype=np.float32)
  state["classifier.dense.bias"] = np.full([hidden], shift, np.float32)
  state["classifier.out_proj.weight"] = np.transpose(kernel)
  state["classifier.out_proj.bias"] = (
    bias.astype(np.float64) - shift * kernel.astype(np.float64).sum(0)
  ).astype(np.float32)
  return state


def multiple_choice_state(tensors, task):
  """``ElectraForMultipleChoice`` weights for our one-dense option scorer.

  transformers scores an option by sequence_summary (dense -> GELU on
  [CLS]) then classifier; as for `classifier_state`, the summary is the
  identity shifted into GELU's linear range and the shift is folded into
  the classifier's bias.
  """
  state = classifier_state(tensors, task)
  return {
    name.replace("classifier.dense.", "sequence_summary.summary.").replace(
      "classifier.out_proj.", "classifier."
    ): array
    for name, array in state.items()
  }


def tagger_state(tensors, task):
  """``ElectraForTokenClassification`` weights (one dense layer, as ours)."""
  state = torch_state(tensors, "electra", ("electra/",))
  kernel = tensors[f"task_specific/{task}/dense/kernel"]
  state["classifier.weight"] = np.transpose(np.asarray(kernel, np.float32))
  state["classifier.bias"] = np.asarray(
    tensors[f"task_specific/{task}/dense/bias"], np.float32
  )
  return state


def regressor_state(tensors, task, scale, shift):
  """A regression head whose output is on the label's own scale.

  Our head predicts the official normalised target ``(value - min) /
  max``; transformers users read the output as the value itself, so the
  de-normalisation ``y * scale + shift`` is folded into the last layer.
  """
  folded = dict(tensors)
  prefix = f"task_specific/{task}/dense/"
  kernel = np.asarray(tensors[prefix + "kernel"], np.float64)
  bias = np.asarray(tensors[prefix + "bias"], np.float64)
  folded[prefix + "kernel"] = (kernel * scale).astype(np.float32)
  folded[prefix + "bias"] = (bias * scale + shift).astype(np.float32)
  return classifier_state(folded, task)


def fold_constant_segment(state, segment_id):
  """Makes transformers' default segment row give the task's segment.

  Our tagging tasks (as the official one) feed segment id ``segment_id``
  (1) on every token; transformers' tokenizer and pipelines feed 0 when
  the caller passes no ``token_type_ids``. Row 0 of the segment table
  becomes a copy of row ``segment_id``, so default inputs give exactly the
  trainer's logits; the row itself stays for callers that pass it.
  """
  table = np.array(state[TOKEN_TYPE_TABLE], np.float32)
  table[0] = table[segment_id]
  state[TOKEN_TYPE_TABLE] = table
  return state


def task_plan(tensors, task, spec):
  """(architecture, state, extra config) of one task head's export.

  Args:
    spec: a `HeadSpec`-like object: ``kind``, ``labels``, ``value_scale``,
      ``value_shift`` and ``segment_id`` (see finetune/head_specs.py).
  """
  extra = label_maps(spec.labels)
  note = INPUT_NOTES[spec.kind]
  if spec.kind == "tagging":
    architecture = "ElectraForTokenClassification"
    state = tagger_state(tensors, task)
  elif spec.kind == "multiple_choice":
    architecture = "ElectraForMultipleChoice"
    state = multiple_choice_state(tensors, task)
    # the summary keeps the hidden width (not one output per label)
    extra = {"summary_proj_to_labels": False}
  elif spec.kind == "regression":
    architecture = "ElectraForSequenceClassification"
    state = regressor_state(tensors, task, spec.value_scale, spec.value_shift)
    extra["problem_type"] = "regression"
  else:
    architecture = "ElectraForSequenceClassification"
    state = classifier_state(tensors, task)
  if spec.segment_id:
    state = fold_constant_segment(state, spec.segment_id)
  extra["electra_tf2_inputs"] = note
  return architecture, state, extra


def _tokenizer_files(directory, vocab_file, do_lower_case, max_length):
  shutil.copyfile(vocab_file, os.path.join(directory, "vocab.txt"))
  special = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
  }
  config = dict(
    special,
    tokenizer_class="ElectraTokenizer",
    do_lower_case=do_lower_case,
    tokenize_chinese_chars=True,
    model_max_length=max_length,
  )
  for name, content in (
    ("tokenizer_config.json", config),
    ("special_tokens_map.json", special),
  ):
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
      json.dump(content, f, indent=2, ensure_ascii=False)


def write_model_dir(
  directory, state, config, vocab_file=None, lower=True, max_length=None
):
  """Writes one transformers directory; an existing one is never touched.
  Its tokenizer's ``model_max_length`` is ``max_length`` (the packed length
  the model was trained with), else the position table's size.

  The files go to a temporary directory that is renamed into place, so a
  crash leaves no half-written model behind.
  """
  if os.path.exists(directory):
    raise FileExistsError(f"{directory} already exists; not overwriting it")
  parent = os.path.dirname(os.path.abspath(directory))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(dir=parent, prefix=".staging-")
  try:
    weight_files.write_safetensors(
      state, os.path.join(staging, "model.safetensors"), {"format": "pt"}
    )
    with open(os.path.join(staging, "config.json"), "w") as f:
      json.dump(config, f, indent=2, sort_keys=True)
    if vocab_file:
      _tokenizer_files(
        staging, vocab_file, lower,
        max_length or config["max_position_embeddings"],
      )  # fmt: skip
    os.rename(staging, directory)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise


def label_maps(labels):
  """config.json's ``id2label`` and ``label2id`` for a label list."""
  return {
    "id2label": {str(i): str(label) for i, label in enumerate(labels)},
    "label2id": {str(label): i for i, label in enumerate(labels)},
  }


def export_models(
  tensors, output_dir, shapes, heads, vocab_file, lower, max_length=None
):
  """Writes every model ``tensors`` hold under ``output_dir``.

  Args:
    tensors: {official name: array}, the loaded model (and task heads).
    output_dir: gets ``discriminator/``, ``generator/``, ``<task>/`` or
      ``encoder/`` subdirectories.
    shapes: (discriminator `BertConfig`, generator `BertConfig` or None,
      embedding size).
    heads: {task: `HeadSpec`} of the dense task heads.
    vocab_file, lower: the vocabulary to ship and its casing (optional).
    max_length: the packed length the model was trained with (a task
      head's own, from its `HeadSpec`, comes first).
  Returns:
    {subdirectory: architecture} of what was written.
  """
  disc_config, gen_config, embedding_size = shapes
  plans = {}
  if "discriminator_predictions/dense_1/kernel" in tensors:
    plans["discriminator"] = (
      "ElectraForPreTraining",
      torch_state(
        tensors, "electra", ("electra/", "discriminator_predictions/")
      ),
      {},
    )
  if gen_config is not None and "generator_predictions/output_bias" in tensors:
    plans["generator"] = ("ElectraForMaskedLM", generator_state(tensors), {})
  for task, spec in heads.items():
    plans[task] = task_plan(tensors, task, spec)
  if not plans:
    plans["encoder"] = (
      "ElectraModel",
      torch_state(tensors, "electra", ("electra/",)),
      {},
    )
  written = {}
  for subdir, (architecture, state, extra) in plans.items():
    config = hf_config.hf_config(
      gen_config if subdir == "generator" else disc_config,
      embedding_size,
      architecture,
      **extra,
    )
    spec = heads.get(subdir)
    length = (spec.max_seq_length if spec else None) or max_length
    write_model_dir(
      os.path.join(output_dir, subdir), state, config, vocab_file, lower,
      length,
    )  # fmt: skip
    written[subdir] = architecture
  return written
