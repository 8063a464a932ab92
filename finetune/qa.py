"""Span-extraction QA on SQuAD-format data (CMRC 2018 and others).

Contexts are split into words by `qa_data` so that predicted spans map back
to the exact characters of the context. Questions are cut to
``max_query_length`` tokens and contexts split into windows of
``max_seq_length`` with ``doc_stride``. The head gives independent start and
end logits; decoding keeps the ``n_best_size`` best valid spans up to
``max_answer_length`` tokens, each scored in the window where its start has
the most context.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from finetune import qa_data
from finetune import qa_head
from finetune import qa_metrics
from finetune import readers
from finetune import task
from model import packing


class QATask(task.Task):
  """SQuAD-format span extraction (``cmrc2018``)."""

  # non-joint heads only; padding lies outside every context (as -1000 does)
  token_outputs = {"start_logits": -1e4, "end_logits": -1e4}

  def __init__(self, config, name="cmrc2018"):
    super().__init__(config, name)
    self.submission_file = f"{name}_predict.json"
    # SQuAD 2.0-style data (some questions have no answer): the hparam,
    # never what a split happened to hold, so that every run and export of
    # the task abstains by the same rule
    self.has_unanswerable = bool(getattr(config, "qa_has_unanswerable", False))

  def get_examples(self, split):
    path = os.path.join(self.config.raw_data_dir, self.name, split + ".json")
    if not tf.io.gfile.exists(path):
      raise FileNotFoundError(f"data file {path} does not exist")
    examples = qa_data.read_squad(path, self.name, split == "train")
    impossible = sum(e.is_impossible for e in examples)
    if split != "test" and impossible and not self.has_unanswerable:
      raise readers.DataFileError(
        f"{path}: {impossible} questions are unanswerable (is_impossible), "
        f"but {self.name} is read as having none; set hparam "
        f"'qa_has_unanswerable' to true for SQuAD 2.0-style data"
      )
    return examples

  def feature_specs(self):
    return {
      f"{self.name}_start": ([], tf.int64),
      f"{self.name}_end": ([], tf.int64),
      f"{self.name}_is_impossible": ([], tf.int64),
      f"{self.name}_eid": ([], tf.int64),
    }

  def windows(self, examples, tokenizer):
    """Features and, per feature, (example, token -> word, token -> whether
    this window gives it the most context, word character spans)."""
    config = self.config
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    contexts = {e.context: qa_data.split_words(e.context) for e in examples}
    unique = sorted({w for words, _ in contexts.values() for w in words})
    pieces = dict(zip(unique, tokenizer.tokenize_to_ids(unique)))
    questions = tokenizer.tokenize_to_ids([e.question for e in examples])
    features, meta = [], []
    for example, question in zip(examples, questions):
      words, spans = contexts[example.context]
      doc, doc_word = [], []
      for w, word in enumerate(words):
        doc += pieces[word]
        doc_word += [w] * len(pieces[word])
      answer = self._answer_tokens(example, spans, doc_word)
      query = question[: config.max_query_length]
      offset = len(query) + 2
      room = config.max_seq_length - offset - 1
      starts = qa_data.window_starts(len(doc), room, config.doc_stride)
      best = qa_data.best_windows(len(doc), starts, room)
      for number, start in enumerate(starts):
        window = range(start, min(start + room, len(doc)))
        feature = packing.pack(
          query, [doc[i] for i in window], cls_id, sep_id, config.max_seq_length
        )
        label = (0, 0)
        if answer and answer[0] >= start and answer[1] < window.stop:
          label = (answer[0] - start + offset, answer[1] - start + offset)
        feature.update(
          {
            f"{self.name}_start": label[0],
            f"{self.name}_end": label[1],
            f"{self.name}_is_impossible": int(example.is_impossible),
            f"{self.name}_eid": len(features),
          }
        )
        features.append(feature)
        meta.append(
          (
            example,
            {offset + k: doc_word[i] for k, i in enumerate(window)},
            {offset + k: best[i] == number for k, i in enumerate(window)},
            spans,
          )
        )
    return features, meta

  def _answer_tokens(self, example, spans, doc_word):
    if (
      example.start_char is None or not example.answers or example.is_impossible
    ):
      return None
    end_char = example.start_char + len(example.answers[0]) - 1
    words = [
      w
      for w, (a, b) in enumerate(spans)
      if b >= example.start_char and a <= end_char
    ]
    if not words:
      return None
    tokens = [t for t, w in enumerate(doc_word) if words[0] <= w <= words[-1]]
    return (tokens[0], tokens[-1]) if tokens else None

  def featurize(self, examples, tokenizer):
    return self.windows(examples, tokenizer)[0]

  def build_head(self, bert_config):
    return qa_head.QAHead(
      f"task_specific/{self.name}",
      bert_config.hidden_size,
      self.config.joint_prediction,
      self.config.answerable_classifier,
      self.config.answerable_uses_start_logits,
    )

  def _answer_block(self, features, sequence_output, training):
    """(-1000 where no answer may start or end, else 0) [batch, seq_len],
    and the sequence output, padded for prediction to beam_size positions:
    a batch cut short (bucket_by_length, or another task's batch in a joint
    run) still has them for the beam's top-k, blocked like padding, so no
    value changes."""
    # answers may start or end at context tokens, or at [CLS] (no answer)
    allowed = tf.cast(
      features["input_mask"] * features["segment_ids"], tf.float32
    )
    allowed += tf.one_hot(0, tf.shape(allowed)[1])
    if not training:
      extra = tf.maximum(self.config.beam_size - tf.shape(allowed)[1], 0)
      allowed = tf.pad(allowed, [[0, 0], [0, extra]])
      sequence_output = tf.pad(sequence_output, [[0, 0], [0, extra], [0, 0]])
    return 1000.0 * (allowed - 1.0), sequence_output

  def span_logits(self, head, sequence_output, block, features):
    """Start and end logits [batch, seq_len]; a joint head's end given the
    gold start (as training feeds it)."""
    start_logits = (
      tf.cast(head.start(sequence_output)[..., 0], tf.float32) + block
    )
    if head.joint:
      gold_start = features[f"{self.name}_start"]
      gold_reprs = tf.gather(sequence_output, gold_start, batch_dims=1)
      end_logits = head.end_given_start(sequence_output, gold_reprs) + block
    else:
      end_logits = (
        tf.cast(head.end(sequence_output)[..., 0], tf.float32) + block
      )
    return start_logits, end_logits

  def distillation_logits(self, head, sequence_output, features):
    """What a teacher gives a student: the span logits of training (end
    given the gold start), stacked [batch, 2, seq_len]."""
    block, _ = self._answer_block(features, sequence_output, True)
    return tf.stack(self.span_logits(head, sequence_output, block, features), 1)

  def loss_and_outputs(self, head, sequence_output, features, training):
    block, sequence_output = self._answer_block(
      features, sequence_output, training
    )
    start_logits, end_logits = self.span_logits(
      head, sequence_output, block, features
    )
    gold_start = features[f"{self.name}_start"]
    gold_end = features[f"{self.name}_end"]
    losses = 0.5 * (
      tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=gold_start, logits=start_logits
      )
      + tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=gold_end, logits=end_logits
      )
    )
    if head.answerable:
      no_answer = head.no_answer_logit(sequence_output, start_logits)
      losses += self.config.answerable_weight * (
        tf.nn.sigmoid_cross_entropy_with_logits(
          labels=tf.cast(features[f"{self.name}_is_impossible"], tf.float32),
          logits=no_answer,
        )
      )
    outputs = {"loss": losses, "eid": features[f"{self.name}_eid"]}
    if training:
      outputs["span_logits"] = tf.stack([start_logits, end_logits], 1)
      return losses, outputs
    if head.answerable:
      outputs["no_answer_logit"] = no_answer
    if not head.joint:
      outputs.update(start_logits=start_logits, end_logits=end_logits)
      return losses, outputs
    outputs.update(self._beam(head, sequence_output, start_logits, block))
    return losses, outputs

  def _beam(self, head, sequence_output, start_logits, block):
    """The joint head's beam: the best starts, and for each the best ends,
    with their log-probabilities."""
    beam = self.config.beam_size
    start_log_probs, start_index = tf.math.top_k(
      tf.nn.log_softmax(start_logits), k=beam
    )
    start_reprs = tf.gather(sequence_output, start_index, batch_dims=1)
    beam_end = (
      head.end_given_starts(sequence_output, start_reprs) + block[:, tf.newaxis]
    )
    end_log_probs, end_index = tf.math.top_k(
      tf.nn.log_softmax(beam_end), k=beam
    )
    return {
      "start_log_probs": start_log_probs,
      "start_index": start_index,
      "end_log_probs": end_log_probs,
      "end_index": end_index,
    }

  def _span_candidates(self, outputs):
    """Per feature: [(score, start token, end token)] to consider."""
    n = self.config.n_best_size
    if "start_index" in outputs:  # joint: the beam of starts, then of ends
      for starts, start_lp, ends, end_lp in zip(
        outputs["start_index"],
        outputs["start_log_probs"],
        outputs["end_index"],
        outputs["end_log_probs"],
      ):
        yield [
          (float(start_lp[i] + end_lp[i][j]), int(starts[i]), int(ends[i][j]))
          for i in range(len(starts))
          for j in range(len(ends[i]))
        ]
      return
    for starts, ends in zip(outputs["start_logits"], outputs["end_logits"]):
      yield [
        (float(starts[s] + ends[e]), int(s), int(e))
        for s in np.argsort(starts)[::-1][:n]
        for e in np.argsort(ends)[::-1][:n]
      ]

  def _window_meta(self, examples, tokenizer):
    """`windows`' meta of ``examples``, made once per examples list (a
    split is scored, then its answers written, from the same outputs)."""
    cached = getattr(self, "_meta_of", None)
    if cached is None or cached[0] is not examples:
      self._meta_of = (examples, self.windows(examples, tokenizer)[1])
    return self._meta_of[1]

  def predict_answers(self, examples, outputs, tokenizer):
    """({qid: answer}, {qid: n-best list}) from the head's outputs."""
    meta = self._window_meta(examples, tokenizer)
    candidates = collections.defaultdict(list)
    for eid, spans_of_feature in zip(
      outputs["eid"], self._span_candidates(outputs)
    ):
      example, token_word, max_context, spans = meta[int(eid)]
      for score, s, e in spans_of_feature:
        if (
          s not in token_word
          or e not in token_word
          or e < s
          or e - s + 1 > self.config.max_answer_length
          or not max_context[s]
        ):
          continue
        first, last = spans[token_word[s]][0], spans[token_word[e]][1]
        candidates[example.qid].append(
          (score, example.context[first : last + 1])
        )
    # as official: a question's no-answer odds are the minimum over its
    # windows (one window that holds the answer is enough)
    null_odds = collections.defaultdict(lambda: np.inf)
    if "no_answer_logit" in outputs:
      for eid, logit in zip(outputs["eid"], outputs["no_answer_logit"]):
        qid = meta[int(eid)][0].qid
        null_odds[qid] = min(null_odds[qid], float(logit))
    answers, nbest = {}, {}
    for example in examples:
      ranked = sorted(set(candidates[example.qid]), reverse=True)
      ranked = ranked[: self.config.n_best_size]
      answers[example.qid] = ranked[0][1] if ranked else ""
      # SQuAD 2.0-style data: the classifier's no-answer odds above
      # qa_na_threshold (official -2.75) mean "no answer"
      if (
        self.has_unanswerable
        and example.qid in null_odds
        and null_odds[example.qid] > self.config.qa_na_threshold
      ):
        answers[example.qid] = ""
      nbest[example.qid] = [{"text": t, "score": s} for s, t in ranked]
    return answers, nbest

  def get_scorer(self, examples, tokenizer):
    return QAScorer(self, examples, tokenizer)

  def submission_lines(self, examples, outputs, tokenizer):
    """One line: the {question id: answer} object CMRC 2018 scores."""
    return [self.predict_answers(examples, outputs, tokenizer)[0]]

  def prediction_count(self, lines):
    return len(lines[0])

  def score_file(self, gold_path, predictions_path):
    """The official EM/F1 (and total, skip) of a {question id: answer}
    JSON file against SQuAD-format gold data."""
    golds = gold_answers(qa_data.read_squad(gold_path, self.name, False))
    predictions = readers.read_json_object(predictions_path)
    return qa_metrics.evaluate(golds, predictions)


def gold_answers(examples):
  """{question id: gold texts} (``[""]`` for unanswerable questions)."""
  return {
    e.qid: ([""] if e.is_impossible else e.answers)
    for e in examples
    if e.answers or e.is_impossible
  }


class QAScorer(task.Scorer):
  """CMRC 2018 EM/F1 of a split; its predictions and n-best as files."""

  def __init__(self, task_, examples, tokenizer):
    self.task, self.examples, self.tokenizer = task_, examples, tokenizer
    self.outputs = collections.defaultdict(list)
    self.files = {}

  def update(self, outputs):
    for key, value in outputs.items():
      self.outputs[key].append(value)

  def get_results(self):
    outputs = {k: np.concatenate(v) for k, v in self.outputs.items()}
    answers, nbest = self.task.predict_answers(
      self.examples, outputs, self.tokenizer
    )
    scores = qa_metrics.evaluate(gold_answers(self.examples), answers)
    results = {"em": scores["em"], "f1": scores["f1"]}
    results["loss"] = float(np.mean(outputs["loss"]))
    # the answers themselves go to the task's predictions file
    self.files = {"nbest": nbest}
    return results

  def output_files(self):
    return self.files
