"""The README's shell, curl and Python examples, run as written (about a minute and a half here) against
a real server on a free port with a temporary store; only `localhost:8000` is rewritten to that port,
and curl gets --fail-with-body so an HTTP error fails the block.

Skipped, with the reason: the Docker block (tests/test_container.py builds and runs the image), the
`make serve` / `make test` block (a server that never returns, and this suite itself), the
benchmarks (40 minutes) and rebuild-defaults (3 minutes, and it rewrites model/pretrained)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import free_port, start_server, stop_server

README = Path(__file__).resolve().parent.parent / "README.md"
SKIP = {
    "docker ": "needs a Docker engine: tests/test_container.py builds and runs the image",
    "make serve": "make serve never returns and make test is this suite",
    "benchmarks": "the benchmarks take about 40 minutes",
    "rebuild-defaults": "takes about 3 minutes and rewrites model/pretrained",
}
# Every HTTP error fails the block, as `set -e` fails it on a command's error.
PRELUDE = 'curl() { command curl --fail-with-body "$@"; }\n'


def examples() -> list[tuple[int, str, str]]:
    """(line, language, text) of every bash and python block, in README order."""
    found, lines = [], README.read_text().splitlines()
    for number, line in enumerate(lines):
        if line in ("```bash", "```python"):
            end = lines.index("```", number + 1)
            found.append((number + 1, line[3:], "\n".join(lines[number + 1 : end]) + "\n"))
    return found


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A working directory as a clone's (.venv beside it), a server on a free port, and the
    environment the examples run in (the CLI's store is the server's)."""
    work = tmp_path_factory.mktemp("readme")
    (work / ".venv").symlink_to(Path(sys.prefix))  # .venv/bin/... as the README writes it
    store, port = work / "store", free_port()
    url, process = start_server(store, port)
    env = {**os.environ, "GRU_FORECAST_STORE": str(store)}
    yield work, port, env
    stop_server(process)


def test_the_readme_has_the_examples_this_file_runs():
    texts = [text for _, _, text in examples()]
    assert sum("curl" in t for t in texts) >= 3 and any("gru-forecast backtest" in t for t in texts)
    assert all(any(key in t for t in texts) for key in SKIP)  # a skip reason with nothing to skip is stale


@pytest.mark.parametrize("line, language, text", examples(), ids=[f"line{n}" for n, _, _ in examples()])
def test_the_readme_example_runs_as_written(line, language, text, sandbox):
    for key, reason in SKIP.items():
        if key in text:
            pytest.skip(reason)
    work, port, env = sandbox
    text = re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{port}", text)
    if language == "python":
        command = [str(work / ".venv" / "bin" / "python"), "-c", text]
    else:
        command = ["bash", "-euo", "pipefail", "-c", PRELUDE + text]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"README line {line}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
