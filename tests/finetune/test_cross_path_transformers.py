"""The transformers export of a fine-tuned model, called as its users call
it (default token_type_ids, pipeline("token-classification")), predicts
what the trainer predicts. Skipped without torch and transformers."""

import os

import numpy as np
import pytest
from cross_path_setup import SHAPE
from cross_path_setup import TASKS
from cross_path_setup import assert_same_lines
from cross_path_setup import assert_same_logits
from cross_path_setup import checkpoint_dir
from cross_path_setup import decode
from cross_path_setup import dev_features  # noqa: F401 (a fixture)
from cross_path_setup import finetuned  # noqa: F401 (a fixture)
from cross_path_setup import read_predictions

from finetune import head_specs

pytestmark = pytest.mark.slow


def test_a_qa_head_is_an_error_pointing_to_the_savedmodel(finetuned, tmp_path):
  import convert_checkpoint

  root, _, _ = finetuned
  for task in (None, "cmrc2018"):
    with pytest.raises(ValueError, match="cmrc2018: transformers has no cl.*"
                       "export_savedmodel.py --task cmrc2018"):  # fmt: skip
      convert_checkpoint.convert(
        checkpoint_dir(root), str(tmp_path / "hf"), "hf", dict(SHAPE),
        task=task,
      )  # fmt: skip
  assert not os.path.exists(tmp_path / "hf")


@pytest.fixture(scope="module")
def hf_export(finetuned, tmp_path_factory):
  import convert_checkpoint

  root, _, _ = finetuned
  out = str(tmp_path_factory.mktemp("hf") / "export")
  for task in TASKS[:4]:
    convert_checkpoint.convert(
      checkpoint_dir(root), os.path.join(out, task), "hf", dict(SHAPE),
      str(root / "vocab.txt"), task,
    )  # fmt: skip
  return {task: os.path.join(out, task, task) for task in TASKS[:4]}


def test_transformers_export_with_default_inputs(
  finetuned, dev_features, hf_export
):
  torch = pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed"
  )
  _, _, files = finetuned
  for name, ours in dev_features.items():
    task, examples, arrays, tokenizer, _ = ours
    directory = hf_export[name]
    kind = head_specs.read_descriptions(checkpoint_dir(finetuned[0]))[name]
    inputs = {
      "input_ids": torch.tensor(arrays["input_ids"]),
      "attention_mask": torch.tensor(arrays["input_mask"]),
    }
    if kind.segment_id is None:  # pairs need their segments, as tokenizers
      inputs["token_type_ids"] = torch.tensor(arrays["segment_ids"])
    cls = (
      transformers.AutoModelForTokenClassification
      if name == "cluener"
      else transformers.AutoModelForSequenceClassification
    )
    with torch.no_grad():
      logits = cls.from_pretrained(directory).eval()(**inputs).logits.numpy()
    result = logits[:, 0] if name == "similarity" else logits
    assert_same_logits(name, ours, result, arrays, 1e-4)
    lines = decode(name, task, examples, arrays, tokenizer, result)
    assert_same_lines(lines, read_predictions(files[name]), name)


def test_transformers_tokenizer_and_pipeline_tag_as_the_trainer(
  finetuned, dev_features, hf_export
):
  pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed"
  )
  _, _, files = finetuned
  task, examples, arrays, tokenizer, _ = dev_features["cluener"]
  directory = hf_export["cluener"]
  tagger = transformers.pipeline("token-classification", model=directory)
  ours = {r["id"]: r["label"] for r in read_predictions(files["cluener"])}
  compared = 0
  for example in examples:
    encoded = tagger.tokenizer(example.text_a)["input_ids"]
    if len(encoded) != len(example.text_a) + 2:
      continue  # a run of Latin letters or digits is one token there
    tags = ["O"] * len(example.text_a)
    for entity in tagger(example.text_a):
      tags[entity["start"]] = entity["entity"]
    spans = task.submission_lines(
      [example],
      {
        "eid": np.array([example.eid]),
        "predictions": np.array([[0] + [task.tag_ids[t] for t in tags]]),
        "chars": np.array([[-1] + list(range(len(tags)))]),
      },
      tokenizer,
    )[0]["label"]
    assert spans == ours[example.guid]
    compared += 1
  assert compared >= len(examples) // 2
