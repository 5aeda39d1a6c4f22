"""schemathesis against the live server's own OpenAPI schema: every operation, 100 random cases each
(valid and invalid data: the fuzzing phase), with and without the API key. Zero 5xx, and every
answer is one the schema documents (status, content type, body).

A new seed every run, printed at the start and the end; GRU_FORECAST_FUZZ_SEED=N repeats a run.
"""

import os
import random
import tempfile
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import start_server, stop_server

pytestmark = pytest.mark.timeout(600)
KEY = "fuzz-key"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
# The operations, read from the app itself (no server needed to list them).
_schema = create_app(Settings(store=Path(tempfile.mkdtemp()), api_key=KEY)).openapi()
OPERATIONS = [f"{method.upper()} {path}" for path, ops in _schema["paths"].items() for method in ops]
# Deleting a whole model last: a fuzz case that deletes `stock` early would leave the others only 404s to find.
OPERATIONS.sort(key=lambda label: label == "DELETE /v1/models/{name}")
TRIED: dict[str, int] = {}
SEED = int(os.environ.get("GRU_FORECAST_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
print(f"\nfuzz seed {SEED} (GRU_FORECAST_FUZZ_SEED={SEED} repeats this run)")


@pytest.fixture(scope="module")
def live_schema(tmp_path_factory):
    store = tmp_path_factory.mktemp("fuzz") / "store"
    url, process = start_server(store, env={"GRU_FORECAST_API_KEY": KEY})
    yield schemathesis.openapi.from_url(url + "/openapi.json")
    stop_server(process)
    print("\nfuzz cases per operation:", TRIED, "total", sum(TRIED.values()), f"seed {SEED}")


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation(live_schema, label, with_key):
    operation = live_schema.find_operation_by_label(label)
    assert operation is not None, label
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    headers = {"X-API-Key": KEY} if with_key else {}
    tried = [0]

    @hypothesis.seed(SEED + OPERATIONS.index(label) * 2 + with_key)
    @hypothesis.given(case=cases)
    @hypothesis.settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                         print_blob=True)
    def run(case):
        tried[0] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except BaseException as exc:
        exc.add_note(f"fuzz seed {SEED}: GRU_FORECAST_FUZZ_SEED={SEED} make test repeats this run")
        raise
    TRIED[f"{label} ({'key' if with_key else 'no key'})"] = tried[0]
