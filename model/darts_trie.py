"""A byte trie in darts-clone's double-array layout, built in Python.

tensorflow-text's text normalizer (`FastBertNormalizer`) reads its
character mapping from a darts-clone double array: one uint32 unit per node,

- bits 0-7: the label of the edge into the node (bit 31 set: a value unit);
- bit 8: the node has a value (stored at ``node ^ offset``, label 0);
- bits 10-31: ``offset``; the child along byte ``c`` is ``node ^ offset ^ c``.

`build` places the nodes (a node's children share one 256-slot block) and
`lookup` walks the array as the kernel does, so a test can check the
layout without TensorFlow.

Example:
  >>> units = build([b"ab", b"b"], [7, 9])
  >>> lookup(units, b"ab"), lookup(units, b"b"), lookup(units, b"a")
  (7, 9, None)
"""

import numpy as np

HAS_VALUE = 1 << 8
VALUE_FLAG = 1 << 31
MAX_OFFSET = 1 << 21  # offsets at or above it need darts-clone's extension


def _children(keys, values):
  """The trie as nested dicts: node -> {byte: child}; a value under None."""
  root = {}
  for key, value in zip(keys, values):
    if not key or 0 in key:
      raise ValueError(f"trie key {key!r}: keys are non-empty, without NUL")
    if not 0 <= value < VALUE_FLAG:
      raise ValueError(f"trie value {value}: values are 0 .. 2**31 - 1")
    node = root
    for byte in key:
      node = node.setdefault(byte, {})
    if None in node:
      raise ValueError(f"trie key {key!r} is given twice")
    node[None] = value
  return root


class _Placer:
  """Free slots of the growing array, searched block by block.

  A node's children sit in one 256-slot block at ``base ^ label``; ``base``
  is any slot, so a node with one label fits in any free slot.
  """

  def __init__(self):
    self.used = bytearray(256)
    self.used[0] = 1  # the root
    self.free = [255]  # free slots per block
    self.first_open = 0  # blocks before it are full
    # two nodes with one base would see each other's children
    self.bases = set()
    # per label count, the block the last such node went to: blocks only
    # fill up, so the search resumes there (density matters less than
    # build time for tables of ~70,000 keys)
    self.resume = {}

  def _fit(self, block, labels):
    """A base in ``block`` where every label's slot is free, or None."""
    start = block * 256
    slots = self.used[start : start + 256]
    first = labels[0]
    for slot in range(256):
      if slots[slot]:
        continue
      low = slot ^ first
      if start + low in self.bases:
        continue
      if all(not slots[low ^ label] for label in labels):
        return start + low
    return None

  def place(self, labels):
    """A base whose slots ``base ^ label`` are all free; marks them used."""
    block = max(self.first_open, self.resume.get(len(labels), 0))
    while True:
      if block == len(self.free):
        self.used.extend(bytearray(256))
        self.free.append(256)
      if self.free[block] >= len(labels):
        base = self._fit(block, labels)
        if base is not None:
          break
      block += 1
    self.bases.add(base)
    self.resume[len(labels)] = block
    for label in labels:
      self.used[base ^ label] = 1
    self.free[block] -= len(labels)
    while self.first_open < len(self.free) and not self.free[self.first_open]:
      self.first_open += 1
    return base


def build(keys, values):
  """The double array mapping each key (bytes) to its value (int).

  Args:
    keys: distinct non-empty byte strings without NUL bytes.
    values: one int in [0, 2**31) per key.

  Returns:
    [units] uint32 array, node 0 the root.
  """
  root = _children(keys, values)
  units = {0: 0}
  placer = _Placer()
  pending = [(0, root)]
  while pending:
    index, node = pending.pop()
    # the most constrained first: a value's slot, then the children
    labels = sorted(0 if label is None else label for label in node)
    base = placer.place(labels)
    offset = index ^ base
    if offset >= MAX_OFFSET:
      raise ValueError("trie too large for darts-clone's plain offsets")
    units[index] |= offset << 10
    for label, child in node.items():
      if label is None:
        units[index] |= HAS_VALUE
        units[base] = VALUE_FLAG | child
      else:
        units[base ^ label] = label
        pending.append((base ^ label, child))
  # whole blocks: the kernel reads base ^ byte for any byte, unchecked
  array = np.zeros(len(placer.used), np.uint32)
  array[list(units)] = list(units.values())
  return array


def _offset(unit):
  return (unit >> 10) << ((unit & 0x200) >> 6)


def lookup(units, key):
  """The value of ``key`` in ``units`` (as the kernel walks it), or None."""
  index, unit = 0, int(units[0])
  for byte in key:
    index ^= _offset(unit) ^ byte
    if index >= len(units):
      return None
    unit = int(units[index])
    if unit & 0x800000FF != byte:
      return None
  if not unit & HAS_VALUE:
    return None
  return int(units[index ^ _offset(unit)]) & 0x7FFFFFFF
