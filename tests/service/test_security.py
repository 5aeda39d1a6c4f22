"""API key on every state-changing route (enumerated from the schema), and tampered models."""

import shutil

from tests.service.conftest import copy_pretrained

STATE_CHANGING = {"post", "put", "patch", "delete"}
# Reading with a body: forecasts in every form (the chart, the Open Inference Protocol) need no key.
OPEN_POSTS = {"/v1/models/{name}/forecast", "/v1/models/{name}/forecast/file", "/v1/models/{name}/classify",
              "/v1/models/{name}/evaluate", "/v1/models/{name}/plot.svg", "/v2/models/{name}/infer",
              "/v2/models/{name}/versions/{version}/infer"}


def test_every_state_changing_route_needs_the_key(make_client):
    client, settings = make_client(api_key="s3cret")
    with client:
        shutil.copytree(settings.store / "stock", settings.store / "doomed")  # what DELETE /v1/models/{name} removes
        paths = client.get("/openapi.json").json()["paths"]
        protected = [(m, p) for p, ops in paths.items() for m in ops if m in STATE_CHANGING and p not in OPEN_POSTS]
        assert len(protected) >= 5  # train, train/csv, cancel, promote, delete ... a new route lands here too
        for method, path in protected:
            name = "doomed" if (method, path) == ("delete", "/v1/models/{name}") else "stock"
            url = path.replace("{name}", name).replace("{version}", "v9").replace("{job_id}", "nope")
            r = client.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            for headers in ({"Authorization": "Bearer s3cret"}, {"X-API-Key": "s3cret"}):
                assert client.request(method, url, json={}, headers=headers).status_code != 401, (method, path)
            assert client.request(method, url, json={}, headers={"X-API-Key": "wrong"}).status_code == 401
        # reading and forecasting stay open
        assert client.get("/v1/models").status_code == 200
        assert client.post("/v1/models/stock/forecast", json={"series": [{"values": [1.0] * 30}]}).status_code == 200


def test_a_tampered_model_is_unavailable_with_its_reason_and_others_serve(make_client, tmp_path):
    store = tmp_path / "store"
    copy_pretrained(store, "stock")
    weights = store / "stock" / "v1" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    client, _ = make_client()
    with client:
        models = {m["name"]: m for m in client.get("/v1/models").json()}
        assert not models["stock"]["available"] and "checksum" in models["stock"]["reason"]
        assert models["weather"]["available"]
        r = client.post("/v1/models/stock/forecast", json={"series": [{"values": [1.0] * 30}]})
        assert r.status_code == 503 and "checksum" in r.json()["detail"]
        assert client.get("/health/ready").status_code == 200
