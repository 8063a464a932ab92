"""Top ops of a traced region, from TensorFlow's own profiler.

  with op_profile.traced(log_dir):
    ...  # the steps to profile
  print(op_profile.top_ops(log_dir))

Self time by op type (and the share of all op time), read from the trace's
``framework_op_stats`` table: what TensorBoard's profile plugin shows.
"""

import collections
import contextlib
import glob
import json
import os

import tensorflow as tf
from tensorflow.python.profiler.internal import _pywrap_profiler_plugin


@contextlib.contextmanager
def traced(log_dir):
  """Profiles the block into ``log_dir``; does nothing when it is None."""
  if log_dir is None:
    yield
    return
  tf.profiler.experimental.start(log_dir)
  try:
    yield
  finally:
    tf.profiler.experimental.stop()


def op_rows(log_dir):
  """[{column id: value}] of every op the newest trace in log_dir holds."""
  paths = glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True)
  newest = max(paths, key=os.path.getmtime)
  data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(
    [newest], "framework_op_stats", {}
  )
  if not ok:
    raise RuntimeError(f"the profiler could not read {newest}: {data[:200]}")
  table = json.loads(data)[0]
  names = [column["id"] for column in table["cols"]]
  return [dict(zip(names, (c.get("v") for c in r["c"]))) for r in table["rows"]]


def top_ops(log_dir, count=15):
  """[(op type, self ms, share of op time)], the largest first."""
  by_type = collections.Counter()
  for row in op_rows(log_dir):
    if row["type"] != "IDLE":
      by_type[row["type"]] += row["total_self_time"] / 1000.0
  total = sum(by_type.values())
  return [
    (name, round(ms, 1), round(ms / total, 3))
    for name, ms in by_type.most_common(count)
  ]
