"""The layering of the packages, read from every module's imports, and the
ceilings on the size of modules and functions."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = (
  "model",
  "util",
  "training",
  "interop",
  "pretrain",
  "finetune",
  "recipes",
)
SCRIPTS = ("configure_pretraining", "configure_finetuning")
# package -> the project packages and modules it must not import
# recipes (end-to-end pipelines) sits on top: nothing imports it
FORBIDDEN = {
  "model": {"pretrain", "finetune", "interop", "training", "recipes", *SCRIPTS},
  "util": {
    "model",
    "pretrain",
    "finetune",
    "interop",
    "training",
    "recipes",
    *SCRIPTS,
  },  # fmt: skip
  "training": {"pretrain", "finetune", "recipes", *SCRIPTS},
  "interop": {"pretrain", "finetune", "training", "recipes", *SCRIPTS},
  "pretrain": {"finetune", "recipes", *SCRIPTS},
  "finetune": {"pretrain", "recipes", *SCRIPTS},
}
# ceilings against god-files and god-functions, well above the sizes the
# code aims at (about 400 lines a module, 60 a function): structure decides
# where a file or function ends, not these numbers
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 90


def product_modules():
  """Paths of the product's Python files (packages and top-level scripts)."""
  paths = [
    os.path.join(ROOT, name)
    for name in os.listdir(ROOT)
    if name.endswith(".py") and name != "setup.py"
  ]
  for package in PACKAGES:
    directory = os.path.join(ROOT, package)
    paths += [
      os.path.join(directory, name)
      for name in os.listdir(directory)
      if name.endswith(".py")
    ]
  return sorted(paths)


def imported_top_names(path):
  """The first component of every module ``path`` imports."""
  tree = ast.parse(open(path, encoding="utf-8").read(), path)
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(alias.name.split(".")[0] for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.add(node.module.split(".")[0])
  return names


def layering_violations(paths, root=ROOT):
  """["<file> imports <name>"] for every import a package must not make."""
  found = []
  for path in paths:
    relative = os.path.relpath(path, root)
    bad = FORBIDDEN.get(relative.split(os.sep)[0], set()) & (
      imported_top_names(path)
    )
    found += [f"{relative} imports {name}" for name in sorted(bad)]
  return found


def test_packages_import_only_what_their_layer_allows():
  assert layering_violations(product_modules()) == []


def test_the_rule_catches_a_forbidden_import(tmp_path):
  # a model module that reaches up into pretraining must be reported
  (tmp_path / "model").mkdir()
  bad = tmp_path / "model" / "bad.py"
  bad.write_text("import os\nfrom pretrain import pretraining_model\n")
  assert layering_violations([str(bad)], str(tmp_path)) == [
    "model/bad.py imports pretrain"
  ]


@pytest.mark.parametrize(
  "path", product_modules(), ids=lambda p: os.path.relpath(p, ROOT)
)
def test_module_and_function_sizes(path):
  text = open(path, encoding="utf-8").read()
  assert text.count("\n") <= MAX_MODULE_LINES
  long = [
    f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
    for node in ast.walk(ast.parse(text))
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
  ]
  assert long == []
