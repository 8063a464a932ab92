"""Intermediate matches of distillation, checked by hand: the hidden-state
match through its projection, the attention match, their weights, the
padding and examples of no task they skip, and the settings they reject."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import config_for

from finetune import distill_matches
from model import bert_config
from model import modeling

MATCHES = [
  {"student_layer": 1, "teacher_layer": 2, "feature": "hidden"},
  {"student_layer": 1, "teacher_layer": 1, "feature": "attention", "weight": 3},
]


def taps_of(hidden, attention):
  taps = modeling.LayerTaps()
  taps.hidden = [tf.zeros_like(hidden), tf.constant(hidden)]
  taps.attention = [tf.constant(attention)]
  return taps


def test_the_matches_loss_by_hand():
  rng = np.random.default_rng(0)
  student_hidden = rng.normal(size=(2, 3, 2)).astype(np.float32)
  teacher_hidden = rng.normal(size=(2, 3, 5)).astype(np.float32)
  student_scores = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
  teacher_scores = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
  # the second example's last token is padding
  weights = np.array([[1, 1, 1], [1, 1, 0]], np.float32)
  projections = distill_matches.Projections(MATCHES, 2, 5)
  kernel = projections.kernels[0].numpy()
  features = {
    "task_id": tf.constant([0, 0]),
    "teacher/match_0": tf.constant(teacher_hidden),
    "teacher/match_1": tf.constant(teacher_scores),
  }
  loss = distill_matches.loss(
    MATCHES, projections, taps_of(student_hidden, student_scores), features,
    tf.constant(weights),
  )  # fmt: skip
  hidden_error = ((student_hidden @ kernel - teacher_hidden) ** 2).sum(-1)
  hidden = (hidden_error * weights).sum() / (5 * 5)  # 5 tokens x 5 units
  pairs = weights[:, None, :, None] * weights[:, None, None, :]
  scores_error = (student_scores - teacher_scores) ** 2
  attention = (scores_error * pairs).sum() / (2 * (9 + 4))  # heads x pairs
  # each mean is multiplied by the batch size, as the task losses are sums
  np.testing.assert_allclose(
    float(loss), 2 * (hidden + 3 * attention), rtol=1e-5
  )


def test_a_student_equal_to_its_teacher_has_no_match_loss():
  rng = np.random.default_rng(1)
  hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
  scores = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
  projections = distill_matches.Projections(MATCHES, 4, 4)
  assert projections.kernels == {}  # equal widths need no map
  features = {
    "task_id": tf.constant([0, 1]),
    "teacher/match_0": tf.constant(hidden),
    "teacher/match_1": tf.constant(scores),
  }
  loss = distill_matches.loss(
    MATCHES, projections, taps_of(hidden, scores), features, tf.ones([2, 3])
  )
  assert float(loss) == 0.0


def test_projections_are_named_per_hidden_match():
  projections = distill_matches.Projections(MATCHES * 2, 6, 10)
  assert sorted(projections.by_name()) == [
    "distillation/projection_0/kernel",
    "distillation/projection_2/kernel",
  ]
  assert projections.kernels[2].shape == (6, 10)


@pytest.mark.parametrize(
  "matches,message",
  [
    ({"student_layer": 1}, "must be a list"),
    (["hidden"], r"matches\[0\]': must be a dict"),
    ([dict(MATCHES[0], layer=2)], "unknown keys \\['layer'\\]"),
    ([dict(MATCHES[0], student_layer=-1)], "'student_layer' must be an int"),
    ([dict(MATCHES[0], teacher_layer=1.5)], "'teacher_layer' must be an int"),
    ([dict(MATCHES[0], feature="logits")], "'feature' must be one of"),
    ([MATCHES[0], dict(MATCHES[1], weight=-1)], r"matches\[1\]': 'weight'"),
  ],
)
def test_bad_matches_are_errors_naming_them(tmp_path, matches, message):
  with pytest.raises(ValueError, match=message):
    config_for(tmp_path, distillation={"matches": matches})


def test_cache_outputs_must_be_a_bool(tmp_path):
  with pytest.raises(ValueError, match="cache_outputs' must be true, false"):
    config_for(tmp_path, distillation={"cache_outputs": 1})


@pytest.mark.parametrize(
  "match,message",
  [
    (dict(MATCHES[0], student_layer=3), "student_layer 3 is not a layer of "
     "hidden \\(0..2"),
    (dict(MATCHES[1], teacher_layer=0), "teacher_layer 0 is not a layer of "
     "attention \\(1..4"),
    (MATCHES[1], "equal head counts; the student has 3, the teacher 4"),
  ],
)  # fmt: skip
def test_matches_that_do_not_fit_the_shapes(match, message):
  student = bert_config.BertConfig(
    vocab_size=11, hidden_size=6, num_hidden_layers=2, num_attention_heads=3
  )
  teacher = bert_config.BertConfig(
    vocab_size=11, hidden_size=8, num_hidden_layers=4, num_attention_heads=4
  )
  with pytest.raises(ValueError, match=message):
    distill_matches.check_shapes([match], student, teacher)
