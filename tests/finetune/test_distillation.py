"""Distillation in fine-tuning: a fine-tuned teacher (or an ensemble)
teaches a student of another shape; teachers that do not fit are errors
before any training."""

import glob
import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf
from helpers import DEMO_ENCODER_HPARAMS
from helpers import DEMO_FINETUNE_RUN
from helpers import DEMO_VOCAB
from helpers import clue_row
from helpers import config_for
from helpers import demo_sentences
from helpers import trainer_outputs
from helpers import write_cmrc
from helpers import write_jsonl

import export_savedmodel
from finetune import distill_matches
from finetune import driver
from finetune import finetuning_model
from finetune import preprocessing
from finetune import task_builder
from finetune import teacher as teacher_lib
from finetune import teacher_cache
from interop import loading
from model import modeling
from model import tokenizers

TEACHER = dict(
  DEMO_FINETUNE_RUN,
  max_seq_length=24,
  train_batch_size=8,
  num_train_epochs=4,
  learning_rate=2e-3,
)
# a narrower student: one layer, hidden 24, the teacher's three heads
STUDENT_SHAPE = {
  "model_hparam_overrides": {
    "hidden_size": 24,
    "num_hidden_layers": 1,
    "num_attention_heads": 3,
    "intermediate_size": 30,
  },
  "embedding_size": 16,
}


def write_tnews(root, labels=("100", "101", "102")):
  rng, sentences = random.Random(0), demo_sentences()
  for split, size in (("train", 48), ("dev", 12)):
    rows = [
      clue_row("tnews", sentences, rng, labels[i % 3], i) for i in range(size)
    ]
    write_jsonl(
      os.path.join(root, "finetuning_data", "tnews", split + ".json"), rows
    )


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
  """A teacher fine-tuned on the fixture's TNEWS rows."""
  root = tmp_path_factory.mktemp("teacher")
  write_tnews(root)
  config = config_for(root, task_names=["tnews"], **TEACHER)
  driver.run_finetuning(config)
  return root, f"{config.model_dir}_1"


def student_config(root, teacher, **extra):
  hparams = dict(TEACHER, **STUDENT_SHAPE, teacher_checkpoint=teacher)
  hparams["teacher_hparams"] = {
    k: DEMO_ENCODER_HPARAMS[k]
    for k in ("model_size", "model_hparam_overrides", "embedding_size")
  }
  hparams["task_names"] = ["tnews"]
  hparams.update(extra)
  return config_for(root, **hparams)


def train_batch(config):
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  features = tasks[0].featurize(tasks[0].get_examples("train"), tokenizer)
  batch = {k: tf.constant([f[k] for f in features]) for k in features[0]}
  batch["task_id"] = tf.zeros([len(features)], tf.int32)
  return tasks, batch


def test_the_teachers_own_outputs_have_no_distillation_loss(teacher_dir):
  root, checkpoint = teacher_dir
  config = student_config(root, checkpoint)
  tasks, batch = train_batch(config)
  teachers = teacher_lib.Teachers(config, tasks)
  _, outputs = teachers.models[0](batch, training=False)
  assert abs(float(teachers.loss(outputs, batch))) < 1e-4
  # an ensemble of one teacher twice teaches what it teaches alone
  twice = teacher_lib.Teachers(
    student_config(root, [checkpoint, checkpoint]), tasks
  )
  np.testing.assert_allclose(
    twice.outputs(batch)["tnews"], teachers.outputs(batch)["tnews"], atol=1e-6
  )


@pytest.mark.slow
def test_a_narrower_student_learns_its_teachers_labels(teacher_dir, tmp_path):
  root, checkpoint = teacher_dir
  write_tnews(tmp_path)
  config = student_config(tmp_path, checkpoint)
  tasks, batch = train_batch(config)
  fresh = finetuning_model.FinetuningModel(config, tasks)
  teachers = teacher_lib.Teachers(config, tasks)
  before = float(teachers.loss(fresh(batch, training=False)[1], batch))
  driver.run_finetuning(config)
  student = finetuning_model.FinetuningModel(config, tasks)
  loading.init_from_checkpoint(
    student.official_variables(), f"{config.model_dir}_1"
  )
  after = float(teachers.loss(student(batch, training=False)[1], batch))
  assert after < 0.5 * before
  results = json.load(open(config.results_json))
  assert len(results["best"][0]["history"]) == 4


def test_teachers_that_do_not_fit_are_errors(teacher_dir, tmp_path):
  root, checkpoint = teacher_dir
  config = student_config(tmp_path, checkpoint, task_names=["afqmc"])
  with pytest.raises(ValueError, match="lacks task_specific/afqmc"):
    teacher_lib.Teachers(config, task_builder.get_tasks(config))
  # the teacher's model.json names what contradicts it
  config = student_config(tmp_path, checkpoint, teacher_hparams=STUDENT_SHAPE)
  with pytest.raises(ValueError, match=r"hidden_size 24 \(the checkpoint has"):
    teacher_lib.Teachers(config, task_builder.get_tasks(config))
  # a directory written before model.json: the weights' shapes are checked
  older = linked_copy(checkpoint, tmp_path / "older", "model.json")
  config = student_config(tmp_path, older, teacher_hparams=STUDENT_SHAPE)
  with pytest.raises(ValueError, match="shape"):
    teacher_lib.Teachers(config, task_builder.get_tasks(config))
  other = linked_copy(
    checkpoint, tmp_path / "reordered", leave_out="tasks.json"
  )
  saved = json.load(open(os.path.join(checkpoint, "tasks.json")))
  saved["tnews"]["labels"] = list(reversed(saved["tnews"]["labels"]))
  json.dump(saved, open(os.path.join(other, "tasks.json"), "w"))
  config = student_config(tmp_path, other)
  with pytest.raises(ValueError, match="trained with labels"):
    teacher_lib.Teachers(config, task_builder.get_tasks(config))


def linked_copy(directory, target, leave_out):
  """``directory``'s files linked into ``target``, but ``leave_out``."""
  os.makedirs(target)
  for name in os.listdir(directory):
    if name != leave_out and os.path.isfile(os.path.join(directory, name)):
      os.symlink(os.path.join(directory, name), target / name)
  return str(target)


def test_a_teacher_of_another_shape_needs_no_teacher_hparams(teacher_dir):
  root, checkpoint = teacher_dir
  config = student_config(root, checkpoint, teacher_hparams={})
  teachers = teacher_lib.Teachers(config, task_builder.get_tasks(config))
  hidden = DEMO_ENCODER_HPARAMS["model_hparam_overrides"]["hidden_size"]
  assert teachers.models[0].bert_config.hidden_size == hidden
  assert config.model_hparam_overrides["hidden_size"] != hidden


@pytest.mark.parametrize(
  "distillation,message",
  [
    ({"temprature": 2.0}, "unknown key 'temprature'"),
    ({"temperature": 0}, "temperature' must be > 0"),
    ({"soft_label_weight": -1}, "weights must be >= 0"),
  ],
)
def test_bad_distillation_settings(tmp_path, distillation, message):
  with pytest.raises(ValueError, match=message):
    config_for(tmp_path, distillation=distillation)


@pytest.mark.slow
def test_a_qa_student_learns_its_teachers_spans(tmp_path):
  write_cmrc(tmp_path)
  qa_run = dict(
    DEMO_FINETUNE_RUN, task_names=["cmrc2018"], max_seq_length=64,
    doc_stride=24, train_batch_size=8, num_train_epochs=3, learning_rate=2e-3,
  )  # fmt: skip
  teacher = config_for(tmp_path / "teacher", **dict(qa_run, raw_data_dir=str(
    tmp_path / "finetuning_data")))  # fmt: skip
  driver.run_finetuning(teacher)
  config = config_for(
    tmp_path / "student",
    **dict(
      qa_run, **STUDENT_SHAPE, raw_data_dir=teacher.raw_data_dir,
      teacher_checkpoint=f"{teacher.model_dir}_1",
      teacher_hparams={
        k: DEMO_ENCODER_HPARAMS[k]
        for k in ("model_size", "model_hparam_overrides", "embedding_size")
      },
    ),
  )  # fmt: skip
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  features = tasks[0].featurize(tasks[0].get_examples("train"), tokenizer)
  batch = {k: tf.constant([f[k] for f in features]) for k in features[0]}
  batch["task_id"] = tf.zeros([len(features)], tf.int32)
  teachers = teacher_lib.Teachers(config, tasks)

  def distance(model):
    """The distillation loss of ``model``'s span logits without dropout."""
    spans = teachers.taught_by(model, batch)["cmrc2018"]
    return float(teachers.loss({"cmrc2018": {"span_logits": spans}}, batch))

  before = distance(finetuning_model.FinetuningModel(config, tasks))
  (results,) = driver.run_finetuning(config)
  student = finetuning_model.FinetuningModel(config, tasks)
  loading.init_from_checkpoint(
    student.official_variables(), f"{config.model_dir}_1"
  )
  assert distance(student) < 0.5 * before
  assert set(results["cmrc2018"]) == {"em", "f1", "loss"}


# the student's layer 1 taught by the teacher's layer 2 (states through a
# learned map from width 24 to 36, and attention scores), its embeddings'
# output by the teacher's
MATCHED = {
  "temperature": 2.0,
  "hard_label_weight": 1.0,
  "matches": [
    {"student_layer": 1, "teacher_layer": 2, "feature": "hidden"},
    {"student_layer": 1, "teacher_layer": 2, "feature": "attention"},
    {"student_layer": 0, "teacher_layer": 0, "feature": "hidden", "weight": 1},
  ],
}


def match_loss(teachers, model, batch):
  """The matches' loss of ``model`` (dropout off) on ``batch``."""
  taps = modeling.LayerTaps()
  model(batch, False, taps)
  features = dict(batch, **teachers.batch_features(batch))
  weights = teachers.match_token_weights(batch)
  return float(
    distill_matches.loss(
      teachers.matches, teachers.projections, taps, features, weights
    )
  )


@pytest.mark.slow
def test_a_student_learns_its_teachers_layers(teacher_dir, tmp_path):
  root, checkpoint = teacher_dir
  write_tnews(tmp_path)
  config = student_config(tmp_path, checkpoint, distillation=MATCHED)
  tasks, batch = train_batch(config)
  teachers = teacher_lib.Teachers(config, tasks)
  before = match_loss(
    teachers, finetuning_model.FinetuningModel(config, tasks), batch
  )
  driver.run_finetuning(config)
  trained = f"{config.model_dir}_1"
  student = finetuning_model.FinetuningModel(config, tasks)
  loading.init_from_checkpoint(student.official_variables(), trained)
  saved = tf.train.Checkpoint(distillation=teachers.projections.by_name())
  saved.read(tf.train.latest_checkpoint(trained)).expect_partial()
  assert match_loss(teachers, student, batch) < 0.5 * before
  # the projections are saved with the student, not among its variables
  names = [name for name, _ in tf.train.list_variables(trained)]
  assert sum(name.startswith("distillation/") for name in names) == 2
  assert not any("projection" in n for n in student.official_variables())
  # and the student exports as any fine-tuned model
  out = str(tmp_path / "exported")
  export_savedmodel.export_savedmodel(
    dict(STUDENT_SHAPE, vocab_size=config.vocab_size), trained, out, DEMO_VOCAB,
    task="tnews",
  )  # fmt: skip
  (_, examples, _, _, logits) = trainer_outputs(config, trained)["tnews"]
  served = tf.saved_model.load(out).signatures["serving_default"](
    text=tf.constant([e.text_a for e in examples])
  )
  np.testing.assert_allclose(
    served["probabilities"].numpy(), tf.nn.softmax(logits).numpy(), atol=1e-5
  )


def test_an_ensemble_cannot_teach_layers(teacher_dir, tmp_path):
  root, checkpoint = teacher_dir
  config = student_config(
    tmp_path, [checkpoint, checkpoint], distillation=MATCHED
  )
  with pytest.raises(ValueError, match="matches' needs one teacher"):
    teacher_lib.Teachers(config, task_builder.get_tasks(config))


@pytest.mark.slow
def test_cached_outputs_teach_as_per_batch_outputs_do(teacher_dir, tmp_path):
  root, checkpoint = teacher_dir
  results, caches = {}, {}
  for cache in (True, False):
    write_tnews(tmp_path / str(cache))
    config = student_config(
      tmp_path / str(cache), checkpoint, distillation={"cache_outputs": cache}
    )
    (results[cache],) = driver.run_finetuning(config)
    caches[cache] = glob.glob(
      os.path.join(config.preprocessed_data_dir, "*.teacher-*.npz")
    )
  assert len(caches[True]) == 1 and not caches[False]
  np.testing.assert_allclose(
    results[True]["tnews"]["loss"], results[False]["tnews"]["loss"], rtol=1e-4
  )
  # the cache holds the teacher's logits of the training records, in order
  tasks = task_builder.get_tasks(config)
  tokenizer = tokenizers.get_tokenizer(config.vocab_file, True)
  preprocessor = preprocessing.Preprocessor(config, tasks, tokenizer)
  records = os.path.join(config.preprocessed_data_dir, "tnews_train.tfrecord")
  teachers = teacher_lib.Teachers(config, tasks)
  with np.load(caches[True][0]) as saved:
    assert len(saved["tnews"]) == 48
    for batch in preprocessor.dataset(records, 100, False):
      np.testing.assert_allclose(
        saved["tnews"][batch["example_index"].numpy()],
        teachers.outputs(batch)["tnews"].numpy(),
        atol=1e-5,
      )
  # another teacher (here an ensemble of two) has another file
  records = records.replace(f"{False}", f"{True}")
  ensemble = student_config(tmp_path / "True", [checkpoint, checkpoint])
  assert teacher_cache.cache_path(ensemble, records) != caches[True][0]
