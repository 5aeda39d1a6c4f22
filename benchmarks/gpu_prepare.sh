#!/usr/bin/env bash
# Fills .gpu/ for the GPU machine (../shared/gpu/README.md), here, after `make install`:
#   bash benchmarks/gpu_prepare.sh
# ../shared/gpu/prepare.sh downloads a wheel for every package .venv has that the GPU machine lacks;
# with the dev and bench extras installed that is ~145 MB (statsforecast, pyarrow, kserve, grpc...),
# over the 64 MiB the runner copies. The GPU run (benchmarks/gpu_check.sh) needs only the service's
# own stack, plus pytest-timeout: pyproject's `timeout` option is an error without it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/gpu/prepare.sh
keep='^(annotated_doc|annotated_types|fastapi|fastapi_offline|httptools|opentelemetry_api|pydantic|pydantic_core|pydantic_settings|python_dotenv|python_multipart|starlette|typing_extensions|typing_inspection|uvicorn)-'
for wheel in .gpu/whl/*.whl; do
  grep -Eq "$keep" <<<"$(basename "$wheel")" || rm "$wheel"
done
.venv/bin/pip download -q --no-deps -d .gpu/whl "pytest-timeout==$(.venv/bin/pip show pytest-timeout | awk '/^Version/ {print $2}')"
du -sh .gpu | awk '{print ".gpu/ is now " $1}'
