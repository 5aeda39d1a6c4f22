#!/usr/bin/env bash
# The serving table of issues 11 and 12 on the GPU machine (16 cores, ../shared/gpu/README.md):
#   source .gpu/env.sh && bash benchmarks/gpu_serving.sh
# Servers on cores 0-7 (1 and 8 processes), wrk on 8-11; the service on CUDA; about 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
timeout 560 python3 -m benchmarks.serving --processes 1 8 --series 1 32 --concurrency 64 256 \
  --protocol-series 32 256 --protocol-concurrency 64 --repeats 1 --duration 5 \
  --server-cpus 0-7 --load-cpus 8-11 --env GRU_FORECAST_DEVICE=cuda
cat benchmarks/out/serving.md
