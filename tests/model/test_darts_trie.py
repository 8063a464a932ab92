"""The double-array trie the LiteRT tokenizer's normalizer reads: every key
found with its value, nothing else found, bad keys named."""

import itertools
import random

import pytest

from model import darts_trie


def test_every_key_is_found_and_no_other_string():
  rng = random.Random(3)
  alphabet = [0x41, 0x80, 0x81, 0xBF, 0xC3, 0xE4, 0xF0]
  strings = [
    bytes(s) for n in (1, 2, 3) for s in itertools.product(alphabet, repeat=n)
  ]
  keys = rng.sample(strings, 150)
  values = [rng.randrange(1 << 31) for _ in keys]
  units = darts_trie.build(keys, values)
  assert len(units) % 256 == 0  # whole blocks: any byte's slot is readable
  expected = dict(zip(keys, values))
  for string in strings + [b"\x41\x41\x41\x41", b"\x7f"]:
    assert darts_trie.lookup(units, string) == expected.get(string)


def test_prefixes_of_keys_are_not_keys():
  units = darts_trie.build([b"abc", b"ab\x01"], [5, 6])
  assert darts_trie.lookup(units, b"a") is None
  assert darts_trie.lookup(units, b"ab") is None
  assert darts_trie.lookup(units, b"abc") == 5


@pytest.mark.parametrize(
  "keys, values, message",
  [
    ([b""], [1], "non-empty"),
    ([b"a\x00"], [1], "without NUL"),
    ([b"a", b"a"], [1, 2], "given twice"),
    ([b"a"], [1 << 31], "values are"),
  ],
)
def test_bad_keys_and_values_are_named(keys, values, message):
  with pytest.raises(ValueError, match=message):
    darts_trie.build(keys, values)
