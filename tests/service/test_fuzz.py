"""schemathesis against the live server's own OpenAPI schema: every operation, 100 seeded cases each,
with and without the API key. Zero 5xx, and every answer matches what the schema documents."""

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import checks

from tests.service.conftest import start_server, stop_server

pytestmark = pytest.mark.timeout(1200)
KEY = "fuzz-key"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    store = tmp_path_factory.mktemp("fuzz") / "store"
    url, process = start_server(store, env={"GRU_FORECAST_API_KEY": KEY})
    yield url
    stop_server(process)
    assert process.returncode in (0, -15)


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=100, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
def test_every_operation_with_the_key(case):
    case.call_and_validate(headers={"X-API-Key": KEY}, checks=CHECKS)


@schema.parametrize()
@hypothesis.settings(max_examples=100, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
def test_every_operation_without_the_key(case):
    case.call_and_validate(checks=CHECKS)
