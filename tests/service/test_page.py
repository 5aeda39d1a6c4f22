"""The page at / as HTML (the browser tests drive it in Chromium): it shows what the store says now."""

import json
import re
import shutil

from model import store


def models_data(html):
    return json.loads(re.search(r'<script type="application/json" id="models-data">(.*?)</script>', html, re.S)
                      .group(1).replace("<\\/", "</"))


def test_the_page_follows_the_store(client):
    root = client.app.state.registry.root
    shutil.copytree(root / "stock" / "v1", root / "stock" / "v2")
    assert "live v1 of 2" in client.get("/").text
    store.set_live(root, "stock", "v2")  # another worker's job (or the CLI) made v2 live
    page = client.get("/").text
    assert "live v2 of 2" in page
    assert '<option value="v2" selected>v2 (live)</option>' in page

    store.delete_model(root, "weather")  # another worker deleted it
    page = client.get("/").text
    assert 'data-model="weather"' not in page and "weather" not in [m["name"] for m in models_data(page)]


def test_a_model_another_worker_trained_shows_loaded_not_unavailable(client):
    root = client.app.state.registry.root
    shutil.copytree(root / "stock", root / "fresh")  # a job finished in another worker: this one never loaded it
    page = client.get("/").text
    assert 'data-model="fresh"' in page and "live v1 of 1" in page.split('data-model="fresh"')[1]
    assert "unavailable" not in page and "fresh" in [m["name"] for m in models_data(page)]


def test_the_page_says_which_models_have_bundled_history_and_offers_interpolation(client):
    root = client.app.state.registry.root
    shutil.copytree(root / "stock", root / "mine")  # a user model: same columns, no bundled data
    page = client.get("/").text
    bundled = {m["name"]: m["bundled"] for m in models_data(page)}
    assert bundled == {"ecg": True, "mine": False, "sf-temps": True, "stock": True, "weather": True}
    assert 'id="interpolate"' in page and 'id="train-interpolate"' in page
    for name in ("mine", "stock", "ecg"):
        assert f'data-promote="{name}"' in page and f'data-delete="{name}"' in page


def test_a_version_whose_bands_missed_their_coverage_is_flagged_on_the_card_and_the_page(client):
    root = client.app.state.registry.root
    shutil.copytree(root / "stock", root / "short")
    path = root / "short" / "v1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["metrics"]["coverage"] = {"80": 0.024, "95": 0.024}
    manifest["metrics"]["coverage_warning"] = "intervals are off nominal on the test part (80% bands cover 0.02)"
    path.write_text(json.dumps(manifest))
    card = client.get("/v1/models/short").json()
    assert card["warning"].startswith("intervals are off nominal")
    assert client.get("/v1/models/stock").json()["warning"] is None
    page = client.get("/").text
    assert 'class="meta warning">intervals are off nominal' in page.split('data-model="short"')[1].split("</table>")[1]


def test_a_panel_models_card_says_so_and_the_page_has_its_series_picker(client):
    from tests.model.helpers import hand_built_panel

    root = client.app.state.registry.root
    store.save_version(root, "months", hand_built_panel())
    page = client.get("/").text
    card = page.split('data-model="months"')[1].split('class="card"')[0]
    assert "panel model: 48 series by month" in card
    info = {m["name"]: m["panel"] for m in models_data(page)}
    assert info["months"] == {"id_column": "month", "series": 48} and info["stock"] is None
    assert 'id="series-id" list="series-ids"' in page and '<script src="/static/series.js">' in page
    script = client.get("/static/series.js")
    assert script.status_code == 200 and "function drawSeries" in script.text
