"""The runtimes users serve a transformers classifier with, set up fairly.

For `serve_throughput.py`: the transformers directory of the same weights
(``convert_checkpoint.py --format hf --task T``) exported to ONNX once,
then run by
- ONNX Runtime, float32, after its transformer graph optimizer (BERT
  fusions: attention, LayerNorm, GELU; ``onnxruntime.transformers``);
- ONNX Runtime, int8 (dynamic quantization of that optimized graph);
- OpenVINO (its CPU plugin, default precision hint: bf16 where the CPU has
  AMX/AVX512_BF16, else f32).
Each tokenizes with transformers' fast (Rust) tokenizer outside the model,
as their users do, and returns the label names. All are optional packages
(torch, transformers, onnx, onnxruntime, openvino), never the toolkit's.
"""

import os

import numpy as np


def export_onnx(hf_dir, path):
  """Writes ``hf_dir``'s sequence classifier as ONNX (dynamic batch and
  length); returns its label names in output order."""
  import torch
  import transformers

  model = transformers.AutoModelForSequenceClassification.from_pretrained(
    hf_dir
  )
  model.eval()
  names = ["input_ids", "attention_mask", "token_type_ids"]
  example = tuple(torch.ones([1, 8], dtype=torch.long) for _ in names)
  dynamic = {name: {0: "batch", 1: "length"} for name in names}
  with torch.no_grad():
    torch.onnx.export(
      model, example, path, input_names=names, output_names=["logits"],
      dynamic_axes=dict(dynamic, logits={0: "batch"}), opset_version=17,
      dynamo=False,
    )  # fmt: skip
  config = model.config
  return [config.id2label[i] for i in range(config.num_labels)]


def optimized_onnx(path, hf_dir, out_path):
  """ONNX Runtime's BERT optimizer over ``path`` (fused attention)."""
  import transformers
  from onnxruntime.transformers import optimizer

  config = transformers.AutoConfig.from_pretrained(hf_dir)
  model = optimizer.optimize_model(
    path,
    model_type="bert",
    num_heads=config.num_attention_heads,
    hidden_size=config.hidden_size,
  )
  model.save_model_to_file(out_path)
  return out_path


def quantized_onnx(path, out_path):
  import onnx
  from onnxruntime.quantization import QuantType
  from onnxruntime.quantization import quantize_dynamic

  # the fused graph's contrib ops defeat shape inference: say float
  quantize_dynamic(
    path, out_path, weight_type=QuantType.QInt8,
    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
  )  # fmt: skip
  return out_path


def _classifier(run, tokenizer, labels, max_length):
  """call(batch of requests) -> label names, with ``run`` (feeds -> logits)."""

  def call(batch):
    first = [r["text"] for r in batch]
    second = [r["text_b"] for r in batch] if "text_b" in batch[0] else None
    encoded = tokenizer(
      first, second, truncation=True, max_length=max_length, padding=True,
      return_tensors="np",
    )  # fmt: skip
    feeds = {k: v.astype(np.int64) for k, v in encoded.items()}
    return [labels[i] for i in np.argmax(run(feeds), -1)]

  return call


def onnxruntime_call(path, tokenizer, labels, max_length, threads):
  import onnxruntime

  options = onnxruntime.SessionOptions()
  if threads:
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
  session = onnxruntime.InferenceSession(
    path, options, providers=["CPUExecutionProvider"]
  )
  wanted = {i.name for i in session.get_inputs()}

  def run(feeds):
    return session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]

  return _classifier(run, tokenizer, labels, max_length)


def openvino_call(path, tokenizer, labels, max_length, threads):
  import openvino

  core = openvino.Core()
  config = {"INFERENCE_NUM_THREADS": threads} if threads else {}
  compiled = core.compile_model(core.read_model(path), "CPU", config)
  request = compiled.create_infer_request()
  wanted = {port.any_name for port in compiled.inputs}

  def run(feeds):
    request.infer({k: v for k, v in feeds.items() if k in wanted})
    return request.get_output_tensor(0).data.copy()

  return _classifier(run, tokenizer, labels, max_length)


def peer_makers(hf_dir, work_dir, max_length, threads):
  """[(name, make its call)] for the runtimes installed, all from
  ``hf_dir``; the ONNX files are written when a call is first made."""
  import functools
  import importlib.util

  @functools.cache
  def prepared():
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    plain = os.path.join(work_dir, "model.onnx")
    labels = export_onnx(hf_dir, plain)
    return tokenizer, labels, plain

  def ort(quantize):
    tokenizer, labels, plain = prepared()
    path = optimized_onnx(plain, hf_dir, os.path.join(work_dir, "fused.onnx"))
    if quantize:
      path = quantized_onnx(path, os.path.join(work_dir, "int8.onnx"))
    return onnxruntime_call(path, tokenizer, labels, max_length, threads)

  def ov():
    tokenizer, labels, plain = prepared()
    return openvino_call(plain, tokenizer, labels, max_length, threads)

  found = []
  if importlib.util.find_spec("onnxruntime"):
    found += [
      ("onnxruntime fp32 fused", lambda: ort(False)),
      ("onnxruntime int8", lambda: ort(True)),
    ]
  if importlib.util.find_spec("openvino"):
    found.append(("openvino (default precision)", ov))
  return found
