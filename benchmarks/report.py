"""Writes benchmarks/RESULTS.md from the tables the benchmarks leave in benchmarks/out/ (and nothing else).

    .venv/bin/python -m benchmarks.report        (bash benchmarks/run_all.sh runs it last)

A section whose benchmark left no table in benchmarks/out/ keeps what RESULTS.md had, date included,
so running one benchmark never erases another's numbers. Within the accuracy section a table with
the same caption replaces the earlier one row by row (`--only weather` updates weather's row).
Findings and one-off measurements belong in docs/experiments.md, not here.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

import torch

from benchmarks.output import OUT

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# (name, title, command, out files): the order of RESULTS.md.
SECTIONS = [
    ("accuracy", "Forecast accuracy (the bench extra)",
     ".venv/bin/python -m benchmarks.accuracy [--only NAME ...] [--origins K]", "accuracy*.md"),
    ("panel", "M3, one global model per group (the bench extra)",
     ".venv/bin/python -m benchmarks.panel [--groups GROUP ...] [--no-arima]", "panel.md"),
    ("panel_arima", "M3: AutoARIMA alone (the bench extra)",
     ".venv/bin/python -m benchmarks.panel --groups yearly quarterly other --only AutoARIMA --name panel_arima",
     "panel_arima.md"),
    ("serving", "Serving", ".venv/bin/python -m benchmarks.serving --duration 5 --repeats 2", "serving.md"),
    ("raw_model", "Raw model", ".venv/bin/python -m benchmarks.raw_model", "raw_model.md"),
    ("training", "Training", "taskset -c 0 .venv/bin/python -m benchmarks.training", "training.md"),
    ("threads", "Threads", ".venv/bin/python -m benchmarks.threads", "threads.md"),
    ("soak", "Load with a training job running", ".venv/bin/python -m benchmarks.soak", "soak.md"),
    ("soak_workers2", "Two workers with a training job running", ".venv/bin/python -m benchmarks.soak --workers 2",
     "soak_workers2.md"),
]
HEADER = """# Benchmark results

Written by `.venv/bin/python -m benchmarks.report` alone, from the tables the benchmarks leave in
`benchmarks/out/` (`bash benchmarks/run_all.sh` runs them all, then it; the soaks run apart). Each
section says when and where it ran; one that was not run again keeps its earlier tables. What the
numbers mean, and every other measurement, is in the dated notebook
[docs/experiments.md](../docs/experiments.md).
"""


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} cores ({cpu}), {gpu}, torch {torch.__version__}"


def sections(text: str) -> dict[str, tuple[str, str]]:
    """Each section's "Run ..." line and tables, as RESULTS.md has them now."""
    found = re.findall(r"<!-- section (\S+) -->\n## [^\n]*\n\n(Run [^\n]*)\n\n(.*?)<!-- end \1 -->", text, re.S)
    return {name: (run, tables) for name, run, tables in found}


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """(caption, rows) of each table; the caption is the line before it."""
    return [(caption, table.strip().splitlines())
            for caption, table in re.findall(r"([^\n|][^\n]*)\n\n((?:\|[^\n]*\n?)+)", text)]


def merge(old: str, new: str) -> str:
    """The new tables, each keeping the old rows (by first cell) that the new run did not have, and
    the old tables whose caption the new run did not write."""
    previous = dict(blocks(old))
    merged = []
    for caption, rows in blocks(new):
        seen = {row.split("|")[1] for row in rows[2:]}
        kept = [row for row in previous.pop(caption, [])[2:] if row.split("|")[1] not in seen]
        merged.append(f"{caption}\n\n" + "\n".join(rows + kept))
    merged += [f"{caption}\n\n" + "\n".join(rows) for caption, rows in previous.items()]
    return "\n\n".join(merged) + "\n"


def render(previous: str) -> str:
    old, parts = sections(previous), [HEADER]
    for name, title, command, pattern in SECTIONS:
        files = sorted(OUT.glob(pattern)) if OUT.exists() else []
        if files:
            day = datetime.date.fromtimestamp(max(f.stat().st_mtime for f in files)).isoformat()
            run, tables = f"Run {day} on {machine()}.", "\n\n".join(f.read_text().strip() for f in files) + "\n"
            if name == "accuracy" and name in old:  # a run of some series updates their rows only
                rows = sorted({row.split("|")[1].strip() for _, table in blocks(tables) for row in table[2:]})
                run = f"{run[:-1]}, for {', '.join(rows)}; the other rows: {old[name][0]}"
                tables = merge(old[name][1], tables)
        elif name in old:
            run, tables = old[name]
        else:
            continue
        parts.append(f"<!-- section {name} -->\n## {title}: `{command}`\n\n{run}\n\n{tables}<!-- end {name} -->\n")
    return "\n".join(parts)


def main() -> None:
    RESULTS.write_text(render(RESULTS.read_text() if RESULTS.exists() else ""))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
