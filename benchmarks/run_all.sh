#!/usr/bin/env bash
# Runs every benchmark (about 40 minutes on 2 cores, 25 of them accuracy), then benchmarks.report writes RESULTS.md
# from their tables alone. The soak (benchmarks.soak, ~8 minutes) is separate; benchmarks.report includes its latest.
#   bash benchmarks/run_all.sh            (after `make install`; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p benchmarks/out
$PY -c "import statsforecast" 2>/dev/null && $PY -m benchmarks.accuracy \
  || echo "benchmarks.accuracy skipped: pip install -e '.[bench]' for AutoETS/AutoARIMA" >&2
$PY -m benchmarks.raw_model
taskset -c 0 $PY -m benchmarks.training
$PY -m benchmarks.threads
$PY -m benchmarks.serving --duration 5 --repeats 2
$PY -m benchmarks.report
