"""Start-up of the scripts: imports without Python's cycle collector.

Importing TensorFlow creates millions of long-lived objects and hardly any
garbage, yet the cycle collector walks them again and again while they are
made: a quarter of the import time on a small CPU, and more later in a
fine-tuning run (tracing makes many objects too). A script therefore pauses
the collector while it imports:

  from util import startup

  if __name__ == "__main__":
    startup.imports_begin()

  ...  # imports

  if __name__ == "__main__":
    startup.imports_done()
    ...

`imports_done` moves every object alive into the permanent generation (they
live as long as the process), so later collections skip them, and turns the
collector back on. Only the scripts do this: importing their modules from
other code (the tests, a notebook) leaves the collector as it was.
"""

import gc


def imports_begin():
  """Pauses the cycle collector until `imports_done`. Importing this module
  is cheap (``util`` imports nothing), so a script calls it first."""
  gc.disable()


def imports_done():
  """Freezes the objects made so far and re-enables the cycle collector."""
  gc.freeze()
  gc.enable()
