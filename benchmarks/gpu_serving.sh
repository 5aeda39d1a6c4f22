#!/usr/bin/env bash
# The serving table of issue 11 on the GPU machine (16 cores, ../shared/gpu/README.md), ~5 minutes:
#   source .gpu/env.sh && bash benchmarks/gpu_serving.sh
# Servers on cores 0-7, wrk on 8-11 (one thread each). 8 processes: the service on CUDA beside the
# FastAPI floor, interleaved twice (README "Processes" gives the medians), and /v1 JSON beside /v2
# binary; then the same service on the CPU; last, one process. Each device run is a fresh machine
# (its floor moved 10,100-13,500 requests/s between runs): compare within a run only.
# Tables in benchmarks/out/serving-gpu8.md, serving-gpu8-cpu.md and serving-gpu1.md.
set -uo pipefail
cd "$(dirname "$0")/.."
common=(--series 1 32 --concurrency 64 256 --repeats 1 --duration 5 --server-cpus 0-7 --load-cpus 8-11)
timeout 260 python3 -m benchmarks.serving "${common[@]}" --repeats 2 --name serving-gpu8 --processes 8 \
  --servers service floor --protocol-series 32 256 --protocol-concurrency 64 --env GRU_FORECAST_DEVICE=cuda
timeout 100 python3 -m benchmarks.serving "${common[@]}" --name serving-gpu8-cpu --processes 8 \
  --servers service --protocol-series --env GRU_FORECAST_DEVICE=cpu
timeout 100 python3 -m benchmarks.serving "${common[@]}" --name serving-gpu1 --processes 1 \
  --servers service floor --protocol-series --env GRU_FORECAST_DEVICE=cuda
