"""Plain stdout logging, flushed at once (progress lines, configs)."""

import sys


def log(*args):
  sys.stdout.write(" ".join(map(str, args)) + "\n")
  sys.stdout.flush()


def heading(*args):
  log(80 * "=")
  log(*args)
  log(80 * "=")


def log_config(config):
  for key, value in sorted(config.to_dict().items()):
    log(f"  {key}: {value}")
  log()
