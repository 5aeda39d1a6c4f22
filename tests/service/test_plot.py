"""plot.svg: the forecast as a chart (history, forecast, 80% and 95% bands), from a body or the
model's bundled history; the same checks as /forecast."""

import xml.etree.ElementTree as ET

from model.datasets import DATASETS
from service.plot import nice_ticks, render

CLOSES = DATASETS["stock"].load()["close"].tolist()
SVG = "{http://www.w3.org/2000/svg}"


def classes(svg_text):
    root = ET.fromstring(svg_text)
    return [p.get("class") for p in root.iter(f"{SVG}path")]


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0.3, 9.7) == [2, 4, 6, 8]
    assert nice_ticks(5, 5) and nice_ticks(float("nan"), 1) == []


def test_render_draws_each_part_and_escapes_text():
    svg = render("a <b> & c", [1.0, 2.0, 3.0], [3.5, 4.0], {80: ([3, 3.5], [4, 4.5]), 95: ([2.5, 3], [4.5, 5])},
                 ["2024-01-01", "2024-01-02", "2024-01-03"], ["2024-01-04T00:00:00", "2024-01-05T00:00:00"])
    assert sorted(classes(svg)) == ["band band-80", "band band-95", "forecast", "history"]
    assert "a &lt;b&gt; &amp; c" in svg
    assert "2024-01-05" in svg  # future dates on the axis


def test_get_draws_the_bundled_history_with_future_dates(client):
    r = client.get("/v1/models/stock/plot.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert sorted(classes(r.text)) == ["band band-80", "band band-95", "forecast", "history"]
    last = DATASETS["stock"].load()["date"].iloc[-1]  # the forecast's business days follow the bundled closes
    ticks = [t for t in ET.fromstring(r.text).iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[-1].text > last
    assert client.get("/v1/models/ecg/plot.svg?history=400").status_code == 200


def test_post_draws_the_series_sent(client):
    body = {"series": [{"values": CLOSES[:40]}, {"values": CLOSES[100:140]}]}
    first = client.post("/v1/models/stock/plot.svg", json=body)
    second = client.post("/v1/models/stock/plot.svg?series=1", json=body)
    assert first.status_code == second.status_code == 200 and first.text != second.text
    r = client.post("/v1/models/stock/plot.svg?series=2", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series"
    assert "guarded" not in first.text
    cents = CLOSES[100:115] + [v * 100 for v in CLOSES[115:130]]  # wider than any training window
    assert "(guarded: " in client.post("/v1/models/stock/plot.svg", json={"series": [{"values": cents}]}).text


def test_plot_refuses_what_forecast_refuses(client):
    r = client.post("/v1/models/stock/plot.svg", json={"series": [{"values": [1.0, 2.0]}]})
    assert r.status_code == 422 and "input_size" in r.json()["detail"]
    assert client.get("/v1/models/weather-type/plot.svg").status_code == 422  # a classifier
    assert client.get("/v1/models/nope/plot.svg").status_code == 404


def test_a_model_without_bundled_history_needs_a_post(client):
    import shutil

    from model.cli import PRETRAINED

    store = client.app.state.settings.store
    shutil.copytree(PRETRAINED / "stock", store / "my-closes")
    r = client.get("/v1/models/my-closes/plot.svg")
    assert r.status_code == 404 and "no bundled history" in r.json()["detail"]
    assert client.post("/v1/models/my-closes/plot.svg", json={"series": [{"values": CLOSES[:30]}]}).status_code == 200


def test_the_page_lists_every_model(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    for name in ("stock", "weather", "sf-temps", "ecg", "weather-type"):
        assert f'data-model="{name}"' in r.text
    cards = {c.split('"', 1)[0]: c for c in r.text.split('data-model="')[1:]}
    assert "reads the time of year" in cards["weather"] and "reads the time of year" not in cards["stock"]
    assert 'src="/static/page.js"' in r.text and "http://" not in r.text.split("<main>")[1]
    assert client.get("/static/page.js").status_code == 200
    assert client.get("/static/other.js").status_code == 404
