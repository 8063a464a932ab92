"""benchmarks/pretrain_throughput.py prints its figures, with MFU against
the peak of the dtype its matmuls run in."""

import json
import os
import subprocess
import sys

import pytest
from helpers import DEMO_TINY_HPARAMS

from conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize(
  "precision,dtype", [(None, "float32"), ("mixed_bfloat16", "bfloat16")]
)
def test_pretraining_benchmark_measures_against_the_compute_dtype(
  precision, dtype
):
  # its synthetic inputs draw ids from 1000 up: the demo vocabulary's size
  hparams = DEMO_TINY_HPARAMS
  command = [
    sys.executable, os.path.join(ROOT, "benchmarks", "pretrain_throughput.py"),
    "--hparams", json.dumps(hparams), "--batch", "4", "--seq", "16",
    "--steps", "2", "--warmup", "1",
  ]  # fmt: skip
  if precision:
    command += ["--mixed-precision", precision]
  out = subprocess.run(
    command, check=True, capture_output=True, text=True, timeout=600
  ).stdout
  figures = json.loads(out.strip().splitlines()[-1])
  assert figures["peak_dtype"] == dtype
  assert figures["mfu"] == pytest.approx(
    figures["achieved_gflops"] / figures["peak_matmul_gflops"], abs=2e-3
  )
  if dtype == "float32":
    assert figures["peak_matmul_gflops"] == figures["peak_float32_gflops"]
  assert isinstance(figures["onednn_matmul"], dict)
