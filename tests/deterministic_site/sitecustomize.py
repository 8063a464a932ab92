"""Test-only start-up hook: deterministic masking and sampling in a subprocess.

A test puts this directory first on PYTHONPATH (with ELECTRA_ROOT set), so a
run_pretraining.py process it starts masks and samples deterministically,
and runs with different layouts (one worker, two workers) see the same
masked positions. Never used outside the tests.
"""

import os
import sys

_root = os.environ.get("ELECTRA_ROOT")
if _root:
  sys.path[:0] = [_root, os.path.join(_root, "tests")]
  from pretrain import pretrain_helpers  # noqa: E402
  import deterministic  # noqa: E402
  pretrain_helpers.mask = deterministic.deterministic_mask
  pretrain_helpers.sample_from_softmax = deterministic.argmax_sample
