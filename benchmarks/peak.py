"""The machine's matmul peak in a run's compute dtype, and which oneDNN
kernel runs it (the instruction set: AVX2, AVX-512, AMX).

MFU is only meaningful against the peak of the dtype the matmuls run in:
on a CPU with AMX a bfloat16 matmul runs about 5x a float32 one, so a
mixed_bfloat16 run measured against the float32 peak overstates its MFU.
"""

import os
import subprocess
import sys
import time

import tensorflow as tf

# the dtype the matmuls of a run compute in, by its mixed_precision setting
COMPUTE_DTYPES = {
  None: tf.float32,
  "mixed_bfloat16": tf.bfloat16,
  "mixed_float16": tf.float16,
}


def peak_matmul_gflops(dtype=tf.float32, n=2048, repeats=10):
  """GFLOP/s of an n x n matmul in ``dtype`` in this process."""
  a = tf.cast(tf.random.normal([n, n]), dtype)
  b = tf.cast(tf.random.normal([n, n]), dtype)
  matmul = tf.function(lambda: tf.matmul(a, b))
  matmul().numpy()
  start = time.perf_counter()
  for _ in range(repeats):
    matmul().numpy()
  return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


_PROBE = """
import tensorflow as tf
for dtype in (tf.float32, tf.bfloat16):
  a = tf.cast(tf.random.normal([256, 256]), dtype)
  print("probe", dtype.name, flush=True)
  tf.matmul(a, a).numpy()
"""


def onednn_matmul_kernels():
  """{dtype name: oneDNN's matmul implementation}, e.g. "brg_matmul:
  avx10_1_512_amx" for bfloat16 on AMX, "gemm_api" for float32 (oneDNN's
  sgemm, which does not name its instruction set); read from
  ONEDNN_VERBOSE in a child process, which has the same environment
  (ONEDNN_MAX_CPU_ISA applies); {} when oneDNN says nothing."""
  env = dict(os.environ, ONEDNN_VERBOSE="1", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(
    [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
    timeout=300,
  )  # fmt: skip
  kernels, dtype = {}, None
  for line in result.stdout.splitlines():
    if line.startswith("probe "):
      dtype = line.split()[1]
    fields = line.split(",")
    if dtype and fields[:4] == ["onednn_verbose", "v1", "primitive", "exec"]:
      # cpu, then the primitive (matmul; gemm_api for oneDNN's sgemm,
      # which names no implementation), then its implementation
      kind, implementation = fields[5], fields[6]
      kernels.setdefault(dtype, implementation or kind)
  return kernels
