"""Where each benchmark leaves its Markdown table: benchmarks/out/NAME.md (benchmarks/report.py gathers them)."""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def save(name: str, report: str) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.md").write_text(report + "\n")
    print(report)
