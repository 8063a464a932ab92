"""Packaging for electra-tf2: ELECTRA pretraining and fine-tuning in TF2."""

from setuptools import setup

setup(
  name="electra-tf2",
  version="0.1.0",
  description=(
    "TensorFlow 2 ELECTRA pretraining and fine-tuning, faithful "
    "to Google's official code, aimed first at Chinese"
  ),
  long_description=open("README.md", encoding="utf-8").read(),
  long_description_content_type="text/markdown",
  python_requires=">=3.9,<3.14",
  packages=[
    "model",
    "pretrain",
    "finetune",
    "util",
    "training",
    "interop",
    "recipes",
  ],
  py_modules=[
    "configure_pretraining",
    "run_pretraining",
    "build_pretraining_dataset",
    "learn_vocab",
    "configure_finetuning",
    "run_finetuning",
    "convert_checkpoint",
    "export_savedmodel",
    "score_predictions",
    "reproduce_clue",
  ],
  install_requires=[
    "tensorflow>=2.16,<2.22",
    "tensorflow-text>=2.16,<2.22",
    "tensorboard>=2.16,<2.22",  # tf.summary needs it; TF 2.21 dropped it
    "numpy>=1.23,<3",
    "h5py>=3.10,<4",  # transformers' tf_model.h5 (TensorFlow installs it too)
    "sentencepiece>=0.1.99,<0.3",
    # the LiteRT tokenizer's normalizer table (TensorFlow installs it too)
    "flatbuffers>=24.3.25",
  ],
  extras_require={
    # the standalone LiteRT interpreter (tf.lite's runs the exports too)
    "litert": ["ai-edge-litert>=2,<3"],
    # plots in reproduce_clue.py's report (the tables need nothing)
    "report": ["matplotlib>=3.7,<4"],
    # build_pretraining_dataset.py --word-segmentation jieba
    "segmentation": ["jieba>=0.42,<0.43"],
    # safetensors and nltk: the tests check our safetensors reader and
    # writer, and our copy of NLTK's word tokenizer, against them; jieba
    # segments real text for the whole-word masking tests
    "test": [
      "pytest>=7,<10",
      "ruff>=0.17,<0.18",
      "safetensors>=0.4,<1",
      "nltk>=3.8,<4",
      "jieba>=0.42,<0.43",
    ],
  },
)
