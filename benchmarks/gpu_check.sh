#!/usr/bin/env bash
# The whole GPU-machine check, one script (../shared/gpu/README.md): source .gpu/env.sh first.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== tests/model on $(python3 -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")')"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/model 2>&1 | tail -15
echo "== benchmarks.gpu_check"
timeout 300 python3 -m benchmarks.gpu_check
