"""The reproduction report: report.md, report.json and (with matplotlib,
the optional ``[report]`` extra) PNG plots, under ``<work-dir>/report``."""

import datetime
import json
import os
import platform

import numpy as np

from recipes import budgets
from util import files as files_lib

CURVE_METRICS = (
  "disc_accuracy", "disc_auc", "disc_loss", "disc_precision", "disc_recall",
  "masked_lm_accuracy", "masked_lm_loss", "sampled_masked_lm_accuracy", "loss",
)  # fmt: skip


def machine_text(info):
  return (
    f"{info['cpu']}, {info['cores']} cores, AVX-512 "
    f"{'yes' if info['avx512f'] else 'no'}, AVX512_BF16 "
    f"{'yes' if info['avx512_bf16'] else 'no'}"
  )


def machine():
  """The CPU model and whether it has AVX-512 / AVX512_BF16."""
  model, flags = platform.processor() or "unknown", set()
  if os.path.exists("/proc/cpuinfo"):
    for line in open("/proc/cpuinfo", encoding="utf-8"):
      if line.startswith("model name") and model in ("unknown", ""):
        model = line.split(":", 1)[1].strip()
      elif line.startswith("flags") and not flags:
        flags = set(line.split(":", 1)[1].split())
  return {
    "cpu": model,
    "cores": os.cpu_count(),
    "avx512f": "avx512f" in flags,
    "avx512_bf16": "avx512_bf16" in flags,
  }


def accuracies(record, which):
  """Per trial dev accuracy: "best" (CLUE's) or "last" epoch."""
  result = record["result"]
  if which == "best":
    return [
      b["results"][t]["accuracy"] for b in result["best"] for t in b["results"]
    ]
  return [r[t]["accuracy"] for r in result["trials"] for t in r]


def summary(values):
  return {
    "mean": float(np.mean(values)),
    "std": float(np.std(values)),
    "n": len(values),
  }


def finetuning_rows(records, tasks, published):
  rows = {}
  for task in tasks:
    ours = {
      s: summary(accuracies(records[f"{s}/{task}"], "best"))
      for s in ("pretrained", "random")
    }
    spread = max(ours["pretrained"]["std"], ours["random"]["std"])
    gain = ours["pretrained"]["mean"] - ours["random"]["mean"]
    several = min(ours["pretrained"]["n"], ours["random"]["n"]) > 1
    rows[task] = dict(
      published={k: v.get(task) for k, v in published["finetuning"].items()},
      ours=ours,
      last={
        s: summary(accuracies(records[f"{s}/{task}"], "last"))
        for s in ("pretrained", "random")
      },
      gain=gain,
      beyond_spread=several and gain > spread,
      examples=records[f"pretrained/{task}"]["result"].get("examples"),
    )
  return rows


BEYOND = " (beyond the trial spread)"
NO_PLOTS = (
  "matplotlib is not installed (pip install -e '.[report]'): no plots; the "
  "tables hold every number"
)


def _fmt(stat):
  return f"{stat['mean']:.2f} ± {stat['std']:.2f} (n={stat['n']})"


def published_cell(published, model):
  """A published figure, or "not published" (never a made-up number)."""
  value = published.get(model)
  return "not published" if value is None else value


def finetuning_table(rows):
  columns = (
    "task", "CLUE ELECTRA-tiny", "RoBERTa-tiny", "ours, pretrained",
    "ours, random init", "pretrained − random", "train/dev examples",
  )  # fmt: skip
  lines = ["| " + " | ".join(columns) + " |", "| --- " * len(columns) + "|"]
  for task, row in rows.items():
    pub = row["published"]
    sizes = row["examples"] or {}
    lines.append(
      f"| {task} | {published_cell(pub, 'ELECTRA-tiny')} | "
      f"{published_cell(pub, 'RoBERTa-tiny')} | "
      f"{_fmt(row['ours']['pretrained'])} | {_fmt(row['ours']['random'])} | "
      f"{row['gain']:+.2f}{BEYOND if row['beyond_spread'] else ''} | "
      f"{sizes.get('train')}/{sizes.get('dev')} |"
    )
  return lines


def pretraining_table(eval_results, published, steps):
  lines = [
    f"| metric | CLUE published (1M steps) | ours ({steps} steps) |",
    "| --- | --- | --- |",
  ]
  for name in CURVE_METRICS:
    ours = eval_results.get(name)
    lines.append(
      f"| {name} | {published['pretraining'].get(name)} | "
      f"{'' if ours is None else f'{ours:.4f}'} |"
    )
  lines += ["", AUC_NOTE]
  return lines


# the two disc_auc figures count different tokens
AUC_NOTE = (
  "disc_auc: ours counts real tokens only; the official code's (CLUE's "
  "published figure) also counts padding positions, so the two are not "
  "the same measure."
)


def curve_table(curve):
  lines = ["| step | " + " | ".join(CURVE_METRICS) + " |"]
  lines.append("| --- " * (len(CURVE_METRICS) + 1) + "|")
  for point in curve:
    lines.append(
      f"| {point['global_step']} | "
      + " | ".join(f"{point.get(m, float('nan')):.3f}" for m in CURVE_METRICS)
      + " |"
    )
  return lines


def plot_curves(curve, published, path):
  import matplotlib  # noqa: PLC0415 (optional extra)

  matplotlib.use("Agg")
  from matplotlib import pyplot  # noqa: PLC0415

  figure, axes = pyplot.subplots(3, 3, figsize=(12, 9))
  steps = [p["global_step"] for p in curve]
  for axis, name in zip(axes.flat, CURVE_METRICS):
    axis.plot(steps, [p.get(name) for p in curve], marker="o", label="ours")
    axis.axhline(
      published["pretraining"][name],
      color="gray",
      linestyle=":",
      label="CLUE, 1M steps",
    )
    axis.set_title(name)
    axis.set_xlabel("step")
  axes.flat[0].legend()
  figure.tight_layout()
  figure.savefig(path)
  pyplot.close(figure)


def plot_finetuning(records, task, path):
  from matplotlib import pyplot  # noqa: PLC0415

  figure, axis = pyplot.subplots(figsize=(6, 4))
  for start, style in (("pretrained", "-"), ("random", "--")):
    for number, best in enumerate(
      records[f"{start}/{task}"]["result"]["best"], 1
    ):
      history = best.get("history", [])
      axis.plot(
        [h["epoch"] for h in history],
        [h["results"][task]["accuracy"] for h in history],
        style, marker="o", label=f"{start}, trial {number}",
      )  # fmt: skip
  axis.set_title(f"{task}: dev accuracy per epoch")
  axis.set_xlabel("epoch")
  axis.set_ylabel("accuracy (%)")
  axis.legend()
  figure.tight_layout()
  figure.savefig(path)
  pyplot.close(figure)


def make_plots(records, tasks, published, directory):
  """PNG paths written, or a sentence saying why there are none."""
  try:
    plot_curves(
      records["curve"]["result"],
      published,
      os.path.join(directory, "pretraining_curves.png"),
    )
    names = ["pretraining_curves.png"]
    for task in tasks:
      plot_finetuning(
        records, task, os.path.join(directory, f"finetune_{task}.png")
      )
      names.append(f"finetune_{task}.png")
    return names
  except ImportError:
    return NO_PLOTS


def conclusion(rows):
  above = [t for t, r in rows.items() if r["beyond_spread"]]
  below = [t for t, r in rows.items() if r["gain"] < 0]
  if all(r["ours"]["pretrained"]["n"] < 2 for r in rows.values()):
    return "One trial per start: no spread to compare the difference with."
  return (
    f"Pretrained start above random initialisation by more than the "
    f"trial-to-trial spread on {len(above)} of {len(rows)} tasks "
    f"({', '.join(above) or 'none'}); below it on {len(below)} "
    f"({', '.join(below) or 'none'}). Best dev epoch, mean over trials."
  )


def markdown(options, records, hparams, published, rows, plots):
  budget = budgets.BUDGETS[options.budget]
  pretraining = records["pretraining"]["result"] or {}
  steps = pretraining.get("global_step")
  lines = [
    "# CLUE ELECTRA-tiny, reproduced",
    "",
    f"Made {datetime.date.today()} by `{options.command}`",
    f"(budget `{options.budget}`: {budget.description}) on "
    f"{machine_text(machine())}.",
    "",
    "## Verdict",
    "",
    conclusion(rows),
    "",
    "## CLUE fine-tuning (dev accuracy, %)",
    "",
    *finetuning_table(rows),
    "",
    "## Pretraining evaluation",
    "",
    *pretraining_table(pretraining, published, steps),
    "",
    "Learning curve (each kept checkpoint, evaluated after training):",
    "",
    *curve_table(records["curve"]["result"]),
    "",
    "## Plots",
    "",
  ]
  if isinstance(plots, str):
    lines.append(plots)
  else:
    lines += [f"![{name}]({name})" for name in plots]
  lines += [
    "",
    "## Stages (wall time, s)",
    "",
    "| stage | seconds |",
    "| --- | --- |",
  ]
  lines += [
    f"| {name} | {record['seconds']} |" for name, record in records.items()
  ]
  lines += [
    "",
    f"Pretraining data: {records['tfrecords']['result']}.",
    "",
    f"Published numbers: {published['source']}.",
    "",
    "## Hyperparameters",
    "",
    "```json",
    json_text(hparams),
    "```",
  ]
  return "\n".join(lines) + "\n"


def json_text(obj):
  return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)


def write_report(options, records, hparams, published):
  """Writes report.md, report.json and the plots; returns report.md's path."""
  directory = os.path.join(options.work_dir, "report")
  os.makedirs(directory, exist_ok=True)
  rows = finetuning_rows(records, options.tasks, published)
  plots = make_plots(records, options.tasks, published, directory)
  text = markdown(options, records, hparams, published, rows, plots)
  path = os.path.join(directory, "report.md")
  files_lib.atomic_write_text(text, path)
  files_lib.atomic_write_json(
    {
      "budget": options.budget,
      "command": options.command,
      "machine": machine(),
      "finetuning": rows,
      "stages": records,
      "hparams": hparams,
      "published": published,
      "plots": plots,
    },
    os.path.join(directory, "report.json"),
  )
  return path
