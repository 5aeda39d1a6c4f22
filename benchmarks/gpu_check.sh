#!/usr/bin/env bash
# The whole GPU-machine check, one script (../shared/gpu/README.md), ~7 minutes (at most ~9):
#   here: bash benchmarks/gpu_prepare.sh; there: source .gpu/env.sh && bash benchmarks/gpu_check.sh
# Parts in the order of what they settle, each under its own timeout; each part's output goes to
# $OUT/gpu/PART.txt (the device runner's folder; benchmarks/out/gpu here) and its tail to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/out}/gpu
mkdir -p "$out"
part() {  # part NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date +%T))"
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  echo "exit $?"
  tail -n 30 "$out/$name.txt"
}
(nvidia-smi; nproc; python3 -c 'import torch; print(torch.__version__)') >"$out/machine.txt" 2>&1
part serving 480 bash benchmarks/gpu_serving.sh
cp benchmarks/out/serving-gpu*.md benchmarks/out/serving-gpu*.json "$out/" 2>/dev/null
# pyproject's `timeout` needs pytest-timeout (../shared/gpu/prepare.sh leaves pytest plugins out), and its
# filterwarnings = error turns the unknown option into an internal error: without the plugin, let it pass.
plugin=()
python3 -c "import pytest_timeout" 2>/dev/null || plugin=(-o "filterwarnings=ignore::pytest.PytestConfigWarning")
part tests-model 120 python3 -m pytest -q -p no:cacheprovider "${plugin[@]}" tests/model
part raw-model 60 python3 -m benchmarks.raw_model --threads 1 --models stock ecg --batches 64 1024 4096 16384
part gpu-check 150 python3 -m benchmarks.gpu_check
echo "== done ($(date +%T))"
