"""A panel model's series by id: GET /v1/models/{name}/series (paged, by prefix) and .../series/{id}."""

import pytest

from model import store
from tests.model.helpers import hand_built_panel


@pytest.fixture
def panel_client(make_client):
    """The bundled defaults beside "months": a panel of Seattle's monthly temperature series, built by hand."""
    client, settings = make_client()
    store.save_version(settings.store, "months", hand_built_panel())
    with client:
        yield client


def test_the_ids_come_a_page_at_a_time_searched_by_prefix(panel_client):
    first = panel_client.get("/v1/models/months/series", params={"limit": 20}).json()
    assert first["total"] == 48 and first["id_column"] == "month" and first["version"] == "v1"
    assert first["ids"][:2] == ["2012-01", "2012-02"] and len(first["ids"]) == 20 and first["next"] == "2013-08"
    seen = list(first["ids"])
    cursor = first["next"]
    while cursor:
        page = panel_client.get("/v1/models/months/series", params={"limit": 20, "after": cursor}).json()
        seen += page["ids"]
        cursor = page["next"]
    assert seen == sorted(seen) and len(set(seen)) == 48

    found = panel_client.get("/v1/models/months/series", params={"prefix": "2014-1"}).json()
    assert found["ids"] == ["2014-10", "2014-11", "2014-12"] and found["total"] == 3 and found["next"] is None
    assert panel_client.get("/v1/models/months/series", params={"prefix": "x"}).json()["ids"] == []
    assert panel_client.get("/v1/models/months/series", params={"limit": 0}).status_code == 422


def test_one_series_is_its_stored_tail_in_the_forecast_request_shape(panel_client):
    series = panel_client.get("/v1/models/months/series/2013-02").json()
    assert series["id"] == "2013-02" and len(series["values"]) == 14 and series["covariates"] == {}
    assert series["timestamps"][0] == "2013-02-15T00:00:00" and series["timestamps"][-1] == "2013-02-28T00:00:00"
    assert series["values"][-2:] == [10.0, 11.7]  # the bundled CSV's numbers, not float32 noise
    assert panel_client.get("/v1/models/months/series/2013-02", params={"version": "v1"}).json() == series


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/v1/models/nothing/series", 404, "unknown model"),
    ("/v1/models/nothing/series/2013-02", 404, "unknown model"),
    ("/v1/models/stock/series", 422, "not a panel model"),
    ("/v1/models/stock/series/x", 422, "not a panel model"),
    ("/v1/models/months/series/1999-01", 404, "no series '1999-01'"),
    ("/v1/models/months/series?version=v9", 404, "v9"),
])
def test_unknown_models_series_and_one_series_models_are_refused(panel_client, path, status, words):
    response = panel_client.get(path)
    assert response.status_code == status and words in response.json()["detail"], response.text


def test_a_panel_version_saved_without_its_tails_says_so(make_client):
    client, settings = make_client(seed_defaults=False)
    artifact = hand_built_panel()
    artifact.tails = None
    store.save_version(settings.store, "old-panel", artifact)
    with client:
        response = client.get("/v1/models/old-panel/series")
    assert response.status_code == 404 and "saved without its series" in response.json()["detail"]


def test_an_id_with_a_slash_a_space_or_accents_is_found_by_its_encoded_path(make_client):
    from urllib.parse import quote

    from tests.model.helpers import monthly_weather

    frame = monthly_weather(months=2)
    frame["month"] = frame["month"].map({"2012-01": "Zürich/a b", "2012-02": "plain"})
    client, settings = make_client(seed_defaults=False)
    store.save_version(settings.store, "odd", hand_built_panel(frame))
    with client:
        assert client.get("/v1/models/odd/series").json()["ids"] == ["Zürich/a b", "plain"]
        series = client.get(f"/v1/models/odd/series/{quote('Zürich/a b', safe='')}").json()
        assert series["id"] == "Zürich/a b" and len(series["values"]) == 14


def test_a_trained_panel_models_series_come_back_by_id_and_forecast(make_client):
    """A really trained panel model (Nixtla's names, two years of months): a series read back by id, with
    the timestamps it was trained on, POSTed as it is to /forecast."""
    from model.config import ModelConfig, TrainConfig
    from model.panel import read_panel
    from model.tails import tails_frame
    from model.train import train
    from tests.model.helpers import monthly_weather

    frame = monthly_weather(months=24).rename(columns={"month": "unique_id", "date": "ds", "temp_max": "y"})
    config = ModelConfig(id_column="unique_id", targets=["y"], input_size=14, horizon=7, hidden_size=8)
    artifact = train(frame, config, TrainConfig(epochs=2, max_steps=20), time_column="ds")
    assert artifact.tails is not None  # panel training keeps each series' window with the version
    trained = artifact.config
    assert artifact.tails.equals(tails_frame(read_panel(frame, trained, "ds"), trained, "ds"))
    client, settings = make_client(seed_defaults=False)
    store.save_version(settings.store, "monthly", artifact)
    with client:
        page = client.get("/v1/models/monthly/series", params={"prefix": "2013"}).json()
        series = client.get("/v1/models/monthly/series/2013-06").json()
        answer = client.post("/v1/models/monthly/forecast", json={"series": [series], "levels": [80, 95]})
    assert page["total"] == 12 and page["id_column"] == "unique_id" and page["ids"][5] == "2013-06"
    june = frame[frame["unique_id"] == "2013-06"].tail(14)
    assert series["timestamps"] == [f"{d}T00:00:00" for d in june["ds"]]
    assert series["values"] == pytest.approx(june["y"].tolist(), abs=1e-4)
    assert answer.status_code == 200, answer.text
    forecast = answer.json()["forecasts"][0]
    assert forecast["id"] == "2013-06" and len(forecast["mean"]) == 7 and set(forecast["intervals"]) == {"80", "95"}
    assert forecast["timestamps"][0].startswith("2013-07-01")
