"""Initialising a model's variables by official name from any `Source`."""

import numpy as np

from interop import sources as sources_lib

# a model's variable groups that a load report names when left fresh
_GROUPS = {
  "generator": ("generator/", "generator_predictions/"),
  "discriminator head": ("discriminator_predictions/",),
}


def _names(items, max_names):
  if max_names is None or len(items) <= max_names:
    return ", ".join(items)
  return ", ".join(items[:max_names]) + f", ... ({len(items) - max_names} more)"


class LoadReport:
  """What `init_from_checkpoint` did: loaded, left at init, unused, notes."""

  def __init__(self, path, loaded, missing, unused, notes=()):
    self.path, self.loaded = path, loaded
    self.missing, self.unused = missing, unused
    self.notes = list(notes)

  def fresh_groups(self):
    """Names of the model parts that start entirely fresh."""
    return [
      group
      for group, prefixes in _GROUPS.items()
      if any(n.startswith(prefixes) for n in self.missing)
      and not any(n.startswith(prefixes) for n in self.loaded)
    ]

  def summary(self, max_names=10):
    """Lines for the log; ``max_names=None`` lists every name."""
    lines = [f"Initialised {len(self.loaded)} variables from {self.path}"]
    if max_names is None:
      lines += [f"  loaded: {name}" for name in self.loaded]
    lines += [f"  note: {note}" for note in self.notes]
    lines += [
      f"  {group}: not in the checkpoint; initialised fresh"
      for group in self.fresh_groups()
    ]
    if self.missing:
      lines.append(
        f"  left at initialisation ({len(self.missing)}): "
        + _names(self.missing, max_names)
      )
    if self.unused:
      lines.append(
        f"  unused in the checkpoint ({len(self.unused)}): "
        + _names(self.unused, max_names)
      )
    return "\n".join(lines)


def _plan(variables_by_name, source):
  """{model name: source name}, with the tied-embeddings fallback: a model
  whose generator shares ``electra/embeddings`` takes them from a
  generator-only source's ``generator/embeddings``."""
  plan = {n: n for n in variables_by_name if n in source.shapes}
  for name in variables_by_name:
    alias = name.replace("electra/embeddings/", "generator/embeddings/", 1)
    if name.startswith("electra/embeddings/") and name not in plan:
      if alias in source.shapes and alias not in variables_by_name:
        plan[name] = alias
  return plan


def _check_shapes(variables_by_name, source, plan):
  for name, source_name in plan.items():
    want = variables_by_name[name].shape.as_list()
    if list(source.shapes[source_name]) != want:
      theirs = "" if name == source_name else f" {name}"
      raise ValueError(
        f"checkpoint {source.path} has {source_name} with shape "
        f"{list(source.shapes[source_name])}, the model's{theirs} is {want} "
        f"(another model size, embedding size or vocab? check the hparams)"
      )


def _shared_copy_notes(copies, source, plan):
  """Notes on a generator's own copies of the embeddings the model shares."""
  differ = [
    name
    for name in copies
    if not np.array_equal(
      source.read(name),
      source.read(plan[name.replace("generator/", "electra/", 1)]),
    )
  ]
  notes = []
  if len(differ) < len(copies):
    notes.append(
      f"{len(copies) - len(differ)} generator/embeddings tensors: the "
      f"generator's copy of the shared embeddings"
    )
  if differ:
    notes.append(
      f"{', '.join(differ)} differ from the discriminator's; the model "
      f"shares one embedding table and uses the discriminator's"
    )
  return notes


def init_from_checkpoint(variables_by_name, spec):
  """Assigns every variable whose official name the checkpoint has.

  Args:
    variables_by_name: {official name: variable}.
    spec: a checkpoint (ours or TF1: directory, 'checkpoint' file or
      prefix), a transformers directory, or {"discriminator": ...,
      "generator": ...}; or an open `sources.Source`.

  Returns:
    A `LoadReport`.
  Raises:
    ValueError naming the variable and both shapes on a shape mismatch
    (nothing is assigned then).
  """
  source = (
    spec
    if isinstance(spec, sources_lib.Source)
    else sources_lib.open_source(spec)
  )
  plan = _plan(variables_by_name, source)
  _check_shapes(variables_by_name, source, plan)
  for name, source_name in plan.items():
    variables_by_name[name].assign(source.read(source_name))
  used = set(plan.values())
  unused, copies = [], []
  for name in sorted(set(source.shapes) - used):
    shared = name.replace("generator/", "electra/", 1)
    if name.startswith("generator/embeddings/") and shared in plan:
      copies.append(name)
    else:
      unused.append(name)
  notes = list(source.notes) + _shared_copy_notes(copies, source, plan)
  return LoadReport(
    source.path,
    sorted(plan),
    sorted(n for n in variables_by_name if n not in plan),
    unused + list(source.unused),
    notes,
  )


def init_optimizer_slots(optimizer, source):
  """Loads the Adam slots a `Source` has; returns how many were loaded.

  Released checkpoints and transformers directories have none: the
  optimizer then starts fresh.
  """
  loaded = 0
  for (name, slot), (shape, read) in source.slots().items():
    table = optimizer.adam_m if slot == "adam_m" else optimizer.adam_v
    if name in table and shape == table[name].shape.as_list():
      table[name].assign(read())
      loaded += 1
  return loaded
