"""benchmarks/report.py: RESULTS.md is what the script writes from the benchmarks' tables, and a run of
one benchmark (or of one series) replaces only its own numbers."""

import benchmarks.report as report

ROW = ("| stock (30, 5) | 64 | 5 | 9.999 | 2.424 | 1.806 | 2.631 | **1.787** | 1.806 | 1.004x (p 0.65) | "
       "0.87 (0.82..0.91) / 0.97 (0.94..0.99) | 5 / 6 / 1 / 0 | window, naive, ridge None |")


def test_the_committed_results_are_the_scripts_output(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "OUT", tmp_path / "out")  # no fresh tables: every section is kept
    text = report.RESULTS.read_text()
    assert report.render(text) == text
    assert "Targets" not in text and "Tried and dropped" not in text  # findings live in docs/experiments.md


def test_one_series_replaces_its_row_and_one_benchmark_its_section(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(report, "OUT", out)
    before = report.RESULTS.read_text()
    caption = "MASE on the test part, non-overlapping windows; torch threads 1."
    header = next(line for line in before.splitlines() if line.startswith("| series (input, horizon)"))
    (out / "accuracy.md").write_text(f"{caption}\n\n{header}\n|{'---|' * 13}\n{ROW}\n")
    (out / "threads.md").write_text("| torch threads | other core |\n|---|---|\n| 1 | busy |\n")
    after = report.render(before)
    accuracy = report.sections(after)["accuracy"]
    assert ROW in accuracy[1] and "| weather (28, 7) |" in accuracy[1] and "| 1.795 |" not in accuracy[1]
    assert ", for stock (30, 5); the other rows: Run 2026-11-26" in accuracy[0]
    assert report.sections(after)["threads"][1] == "| torch threads | other core |\n|---|---|\n| 1 | busy |\n"
    assert report.sections(after)["serving"] == report.sections(before)["serving"]
