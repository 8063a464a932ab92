"""Tensor helpers of the text-in serving signatures, apart from the model.

What the fine-tuning tasks do in Python before and after the model, as
TensorFlow ops a SavedModel can carry:
- `char_tokens`: a tagging task's featurization (each character
  tokenized alone, labelled on its first piece, segment id 1);
- `tag_layout`, `char_tags`, `decode_spans`: a tagging task's decoding of
  per-token tags into entity spans of character offsets (strict BIO /
  BIOES, as `finetune.tagging.tags_to_spans`);
- `entity_texts`: the characters of each span.
"""

import tensorflow as tf

PREFIXES = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}


def positions_in_rows(ragged):
  """[values] int32: the index of each value of ``ragged`` in its row."""
  starts = tf.gather(ragged.row_splits, ragged.value_rowids())
  flat = tf.range(tf.shape(ragged.flat_values, out_type=tf.int64)[0])
  return tf.cast(flat - starts, tf.int32)


def char_tokens(tokenizer, texts, max_tokens):
  """Token ids of each character, and the character each token starts.

  Args:
    tokenizer: a `FastTokenizer` (``tokenize_tensor``).
    texts: [batch] strings.
    max_tokens: tokens kept per text (max_seq_length - 2).

  Returns:
    (ids, chars): ragged [batch, (tokens)] int32; ``chars`` is the index
    (in code points of the text) of the character a token is the first
    piece of, -1 for a character's further pieces.
  """
  chars = tf.strings.unicode_split(texts, "UTF-8")
  pieces = tokenizer.tokenize_tensor(chars.flat_values)  # [chars, (pieces)]
  char_index = positions_in_rows(chars)
  first = tf.equal(tf.ragged.range(pieces.row_lengths()), 0)
  starts = tf.where(
    first.flat_values,
    tf.gather(char_index, pieces.value_rowids()),
    -tf.ones_like(pieces.flat_values),
  )
  by_text = chars.row_splits
  ids = tf.RaggedTensor.from_row_splits(pieces, by_text).merge_dims(1, 2)
  starts = tf.RaggedTensor.from_row_splits(
    pieces.with_flat_values(starts), by_text
  ).merge_dims(1, 2)
  return ids[:, :max_tokens], starts[:, :max_tokens]


def tag_layout(tags):
  """(prefix code, type index) of every tag, and the entity type names.

  Args:
    tags: the task's tag list ("O", "B-name", "I-name", ...).
  """
  types = sorted({tag.split("-", 1)[1] for tag in tags if tag != "O"})
  prefix = [PREFIXES[tag.split("-", 1)[0]] for tag in tags]
  kind = [types.index(t.split("-", 1)[1]) if t != "O" else -1 for t in tags]
  return prefix, kind, types


def char_tags(predictions, chars, num_chars):
  """Per character, the tag predicted on its first token (0, "O", for
  characters without one).

  Args:
    predictions: [batch, seq_len] int32 tag ids.
    chars: [batch, seq_len] int32 character of each first piece, else -1.
    num_chars: the width of the result (at least every index in chars).

  Returns:
    [batch, num_chars] int32.
  """
  batch = tf.shape(predictions)[0]
  rows = tf.broadcast_to(tf.range(batch)[:, tf.newaxis], tf.shape(chars))
  keep = chars >= 0
  index = tf.stack([rows[keep], chars[keep]], axis=1)
  return tf.scatter_nd(index, predictions[keep], [batch, num_chars])


def _span_step(state, column):
  """One character of the strict decoding: the new state and up to two
  spans ended here (the one it closes, then an E-/S- one), each as
  (start, end, kind, valid), every field [batch]."""
  start, kind = state
  i, prefix, label = column
  at = tf.fill(tf.shape(start), i)
  inside = start >= 0
  continues = ((prefix == 2) | (prefix == 3)) & inside & tf.equal(kind, label)
  closes = inside & ~continues
  opens = (prefix == 1) | (prefix == 4) | ((prefix >= 2) & ~continues)
  start_now = tf.where(opens, at, tf.where(continues, start, -1))
  kind_now = tf.where(opens | continues, label, -1)
  ends = ((prefix == 3) | (prefix == 4)) & (start_now >= 0)
  state = (tf.where(ends, -1, start_now), tf.where(ends, -1, kind_now))
  return state, (start, at - 1, kind, closes, start_now, at, kind_now, ends)


def decode_spans(tag_ids, prefix_of, kind_of):
  """Entity spans of per-character tags, in the order they end.

  Args:
    tag_ids: [batch, chars] int32.
    prefix_of, kind_of: per tag id, its prefix code and type index.

  Returns:
    (starts, ends, kinds): ragged [batch, (entities)] int32, ends
    inclusive.
  """
  batch = tf.shape(tag_ids)[0]
  padded = tf.pad(tag_ids, [[0, 0], [0, 1]])  # a final "O" closes all
  columns = (
    tf.range(tf.shape(padded)[1]),
    tf.transpose(tf.gather(tf.constant(prefix_of, tf.int32), padded)),
    tf.transpose(tf.gather(tf.constant(kind_of, tf.int32), padded)),
  )
  none = -tf.ones([batch], tf.int32)
  no = tf.zeros([batch], tf.bool)
  _, emitted = tf.scan(
    lambda carry, column: _span_step(carry[0], column),
    columns,
    initializer=((none, none), (none, none, none, no) * 2),
  )
  # each field [chars + 1, batch]; two emissions a step, the close first
  fields = [tf.stack([emitted[k], emitted[k + 4]], axis=1) for k in range(4)]
  valid = tf.reshape(tf.transpose(fields[3], [2, 0, 1]), [batch, -1])

  def by_row(values):
    values = tf.reshape(tf.transpose(values, [2, 0, 1]), [batch, -1])
    return tf.ragged.boolean_mask(values, valid)

  return by_row(fields[0]), by_row(fields[1]), by_row(fields[2])


def entity_texts(texts, starts, ends):
  """The characters ``texts[b][starts[b, e] : ends[b, e] + 1]`` ([batch,
  entities] strings; "" where start is -1)."""
  present = starts >= 0
  rows = tf.broadcast_to(texts[:, tf.newaxis], tf.shape(starts))
  return tf.where(
    present,
    tf.strings.substr(
      rows,
      tf.where(present, starts, 0),
      tf.where(present, ends - starts + 1, 0),
      unit="UTF8_CHAR",
    ),
    "",
  )
