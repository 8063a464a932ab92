"""Whole-word and span masking: the helpers on inputs checked by hand, the
span-length law (chi-square), and the masks' properties on real Chinese
text segmented by jieba."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import build_pretraining_dataset
from conftest import shared_path
from pretrain import pretrain_data
from pretrain import pretrain_helpers
from pretrain import word_masking

SPECIAL = pretrain_helpers.BERT_SPECIAL_IDS  # [CLS] 101, [SEP] 102, [MASK] 103


def hand_batch(rows=4):
  """[CLS] a b c [SEP] d e [SEP] pad pad: words (a b), (c), (d e)."""
  ids = tf.constant([[101, 5, 6, 7, 102, 8, 9, 102, 0, 0]] * rows)
  mask = tf.constant([[1] * 8 + [0, 0]] * rows)
  word_ids = tf.constant([[-1, 0, 0, 1, -1, 2, 2, -1, -1, -1]] * rows)
  inputs = pretrain_data.Inputs(ids, mask, tf.zeros_like(ids), None, None, None)
  return inputs, word_ids


def test_word_lengths_count_the_candidate_tokens_of_each_word():
  inputs, word_ids = hand_batch(1)
  candidates = pretrain_helpers.get_candidates_mask(
    inputs.input_ids, inputs.input_mask, SPECIAL
  )
  lengths = word_masking.word_lengths(word_ids, candidates).numpy()
  assert lengths.tolist() == [[2, 1, 2, 0, 0, 0, 0, 0, 0, 0]]


def test_greedy_take_skips_a_word_longer_than_the_budget_left():
  lengths = tf.constant([[2, 1, 3, 0], [3, 3, 1, 1], [4, 0, 0, 0]])
  taken = word_masking.greedy_take(lengths, tf.constant([3, 2, 3]))
  # row 0: 2 + 1 = 3 spent, then 3 does not fit; row 1: both 3s skipped
  assert taken.numpy().tolist() == [
    [True, True, False, False],
    [False, False, True, True],
    [False, False, False, False],
  ]


def test_chosen_positions_are_in_order_then_zero():
  chosen = tf.constant([[False, True, False, True, True], [False] * 5])
  positions, weights = word_masking.chosen_positions(chosen, 4)
  assert positions.numpy().tolist() == [[1, 3, 4, 0], [0, 0, 0, 0]]
  assert weights.numpy().tolist() == [[1, 1, 1, 0], [0, 0, 0, 0]]


def test_span_lengths_follow_the_truncated_geometric_law():
  tf.random.set_seed(5)
  draws = 20000
  lengths = word_masking.sample_span_lengths(draws).numpy()
  law = word_masking.span_length_law().numpy()
  # p (1 - p)^(k - 1) for k = 1..10, renormalised: SpanBERT's mean 3.8
  expected_law = 0.2 * 0.8 ** np.arange(10)
  np.testing.assert_allclose(law, expected_law / expected_law.sum(), rtol=1e-6)
  assert abs((law * np.arange(1, 11)).sum() - 3.797) < 1e-3
  observed = np.bincount(lengths, minlength=12)[1:11]
  assert observed.sum() == draws  # nothing outside 1..10
  expected = law * draws
  chi_square = float(((observed - expected) ** 2 / expected).sum())
  assert chi_square < 27.88  # 9 degrees of freedom, p = 0.001


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("masking", ["whole_word", "span"])
def test_a_hand_batch_is_masked_in_whole_words(masking, compiled):
  tf.random.set_seed(1)
  inputs, word_ids = hand_batch(64)

  def mask(inputs, word_ids):
    return word_masking.mask_words(inputs, word_ids, masking, 0.5, 5, SPECIAL)

  if compiled:  # as in a step with "jit_compile": true
    mask = tf.function(mask, jit_compile=True, autograph=False)
  masked = mask(inputs, word_ids)
  words = {1: 0, 2: 0, 3: 1, 5: 2, 6: 2}
  for row in range(64):
    weights = masked.masked_lm_weights[row].numpy()
    chosen = set(masked.masked_lm_positions[row].numpy()[weights > 0])
    # budget round(8 x 0.5) = 4: whole words of 2 + 1 or 2 + 2 tokens
    assert len(chosen) in (3, 4) and chosen <= set(words)
    for position in chosen:
      same_word = {p for p, w in words.items() if w == words[position]}
      assert same_word <= chosen
    ids = masked.masked_lm_ids[row].numpy()[weights > 0]
    original = inputs.input_ids[row].numpy()[sorted(chosen)]
    assert ids.tolist() == original.tolist()


def test_span_masking_without_word_ids_masks_token_spans():
  tf.random.set_seed(2)
  inputs, _ = hand_batch(32)
  masked = word_masking.mask_words(inputs, None, "span", 0.5, 5, SPECIAL)
  counts = masked.masked_lm_weights.numpy().sum(1)
  assert (counts == 4).all()  # single tokens always fill the budget
  positions = masked.masked_lm_positions.numpy()
  assert set(positions[positions > 0]) <= {1, 2, 3, 5, 6}


@pytest.fixture(scope="module")
def wiki_batches(tmp_path_factory):
  """64 batches of 32 examples of the Chinese Wikipedia sample, with
  jieba word ids."""
  pytest.importorskip("jieba", reason="jieba is not installed")
  vocab = shared_path("data", "vocab", "bert-base-chinese-vocab.txt")
  root = tmp_path_factory.mktemp("wiki")
  corpus = root / "corpus"
  corpus.mkdir()
  shutil.copy(shared_path("data", "corpus", "zhwiki_sample.txt"), corpus)
  build_pretraining_dataset.main(
    ["--corpus-dir", str(corpus), "--vocab-file", vocab, "--output-dir",
     str(root / "out"), "--word-segmentation", "jieba"]
  )  # fmt: skip
  files = pretrain_data.list_input_files(
    os.path.join(str(root / "out"), "pretrain_data.tfrecord-*")
  )
  dataset = pretrain_data.make_dataset(
    files, 32, 128, True, seed=0, with_word_ids=True
  )
  return list(dataset.take(64))


# one trace per masking option for the whole module
MASKERS = {
  masking: tf.function(
    lambda inputs, word_ids, masking=masking: word_masking.mask_words(
      inputs, word_ids, masking, 0.15, 19, SPECIAL
    ),
    autograph=False,
  )
  for masking in ("whole_word", "span")
}


def masked_rows(batch, masking):
  """Per row: (input_ids, input_mask, word_ids, chosen positions)."""
  inputs = pretrain_data.features_to_inputs(batch)
  masked = MASKERS[masking](inputs, batch["word_ids"])
  weights = masked.masked_lm_weights.numpy()
  positions = masked.masked_lm_positions.numpy()
  arrays = [batch[k].numpy() for k in ("input_ids", "input_mask", "word_ids")]
  for row in range(len(weights)):
    chosen = positions[row][weights[row] > 0]
    yield arrays[0][row], arrays[1][row], arrays[2][row], chosen


@pytest.mark.slow
@pytest.mark.parametrize("masking", ["whole_word", "span"])
def test_real_text_is_masked_in_whole_words_at_mask_prob(wiki_batches, masking):
  tf.random.set_seed(3)
  masked_tokens = real_tokens = multi_token_words = 0
  for batch in wiki_batches:
    for ids, mask, word_ids, chosen in masked_rows(batch, masking):
      assert len(set(chosen)) == len(chosen)  # no position twice
      # never [CLS], [SEP] or padding
      assert mask[chosen].all() and not np.isin(ids[chosen], [101, 102]).any()
      # every masked word is masked in full
      for word in set(word_ids[chosen]):
        whole = np.flatnonzero(word_ids == word)
        assert set(whole) <= set(chosen)
        multi_token_words += len(whole) > 1
      masked_tokens += len(chosen)
      real_tokens += mask.sum()
  assert abs(masked_tokens / real_tokens - 0.15) < 0.005
  assert multi_token_words > 1000  # Chinese words of several characters


def test_token_masking_is_the_official_masking_with_word_ids_present():
  from conftest import TINY_SPECIAL_IDS
  from conftest import tiny_batch
  from conftest import tiny_config
  from pretrain import pretraining_model

  model = pretraining_model.PretrainingModel(tiny_config(), TINY_SPECIAL_IDS)
  batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
  word_ids = tf.where(batch["input_mask"] > 0, tf.range(17), -1)
  inputs = pretrain_data.features_to_inputs(batch)
  tf.random.set_seed(7)
  ours = model._mask(inputs, word_ids)
  tf.random.set_seed(7)
  official = pretrain_helpers.mask(
    inputs, 0.15, model.config.max_predictions_per_seq, TINY_SPECIAL_IDS
  )
  for name in ("input_ids", "masked_lm_positions", "masked_lm_weights"):
    np.testing.assert_array_equal(
      getattr(ours, name).numpy(), getattr(official, name).numpy()
    )
