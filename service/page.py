"""The page at /: the models as cards (versions, promote, delete), a forecast drawn from pasted values,
a dropped CSV, the model's history or a panel model's series picked by id, and training from a CSV with its
progress. Server-rendered HTML, two small scripts and one stylesheet from service/static/, every chart from
/v1/models/{name}/plot.svg: nothing leaves the server, and the page uses only the /v1 API its users could
call themselves."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from model import store
from model.artifact import Manifest
from model.config import ModelConfig
from model.datasets import DATASETS
from service.errors import Problem
from service.registry import Registry
from service.routes.models import current_names

STATIC = Path(__file__).parent / "static"
ASSETS = {"page.js": "application/javascript", "series.js": "application/javascript", "page.css": "text/css"}


def _score(metrics: dict[str, Any], key: str) -> float | None:
    value = (metrics.get(key) or {}).get("mase")
    return float(value) if isinstance(value, int | float) else None


def _manage(registry: Registry, name: str, live: str | None) -> str:
    """The versions, the live one, a promote control and a delete button (the API key field applies)."""
    options = "".join(f'<option value="{escape(v)}"{" selected" if v == live else ""}>'
                      f'{escape(v)}{" (live)" if v == live else ""}</option>'
                      for v in store.versions(registry.root, name))
    return (f'<div class="manage"><select data-versions="{escape(name)}" aria-label="versions of {escape(name)}">'
            f'{options}</select><button class="secondary" data-promote="{escape(name)}">Promote</button>'
            f'<button class="secondary danger" data-delete="{escape(name)}">Delete</button></div>')


def _bundled(name: str, config: ModelConfig) -> bool:
    """Whether GET plot.svg has history to draw: a default's name with the default's columns."""
    dataset = DATASETS.get(name)
    return dataset is not None and [*config.targets, *config.covariates] == [
        *dataset.model.targets, *dataset.model.covariates]


def _panel(config: ModelConfig, manifest: Manifest) -> tuple[str, dict[str, Any] | None]:
    """A panel model's line on its card (how many series, the id column, how many were too short) and
    what the page's series picker reads; nothing for a one-series model."""
    if config.id_column is None:
        return "", None
    panel = manifest.panel or {}
    count = panel.get("series") if isinstance(panel.get("series"), int) else None
    short = len(panel.get("short") or {})
    line = (f'<br><span class="panel-line">panel model: {f"{count:,} series" if count is not None else "series"} '
            f'by {escape(config.id_column)}{f", {short:,} too short to use" if short else ""}</span>')
    return line, {"id_column": config.id_column, "series": count}


def _card(registry: Registry, name: str) -> tuple[str, dict[str, Any] | None]:
    loaded = registry.models.get(name)
    if loaded is None:
        reason = registry.errors.get(name, "not loaded")
        return (f'<div class="card" data-model="{escape(name)}"><h3>{escape(name)}</h3>'
                f'<div class="meta">unavailable: {escape(reason)}</div>'
                f'{_manage(registry, name, store.live_version(registry.root, name))}</div>'), None
    config, manifest = loaded.artifact.config, loaded.manifest
    metrics = manifest.metrics or {}
    rows = []
    if config.task == "forecast":
        model = _score(metrics, "model")
        baselines = {label: _score(metrics, key) for key, label in
                     (("naive", "naive"), ("seasonal_naive", "seasonal naive"))}
        known = [v for v in baselines.values() if v is not None]
        verdict = "win" if model is not None and known and model < min(known) else "lose"
        if model is not None:
            rows.append(f'<tr><th>test MASE</th><td class="{verdict}">{model:.3f}</td></tr>')
        rows += [f"<tr><td>{label}</td><td>{value:.3f}</td></tr>" for label, value in baselines.items()
                 if value is not None]
        button = f'<button class="secondary" data-forecast="{escape(name)}">Forecast</button>'
        if metrics.get("coverage_warning"):  # bands far from their nominal coverage: say so beside them
            button = f'<div class="meta warning">{escape(str(metrics["coverage_warning"]))}</div>{button}'
    else:
        accuracy = (metrics.get("model") or {}).get("accuracy")
        majority = (metrics.get("majority") or {}).get("accuracy")
        if accuracy is not None:
            rows.append(f"<tr><th>test accuracy</th><td>{accuracy:.3f}</td></tr>")
        if majority is not None:
            rows.append(f"<tr><td>majority class</td><td>{majority:.3f}</td></tr>")
        button = ""
    versions = store.versions(registry.root, name)
    panel_line, panel = _panel(config, manifest)
    html = (f'<div class="card" data-model="{escape(name)}"><h3>{escape(name)} '
            f'<span class="meta live">live {escape(loaded.version)} of {len(versions)}</span></h3>'
            f'<div class="meta">{escape(config.task)} · input {config.input_size} · horizon {config.horizon}'
            f'{" · " + escape(config.frequency) if config.frequency else ""}<br>'
            f'targets {escape(", ".join(config.targets))}'
            f'{"<br>covariates " + escape(", ".join(config.covariates)) if config.covariates else ""}'
            f'{"<br>reads the time of year: send timestamps" if config.calendar_columns else ""}{panel_line}</div>'
            f'<table>{"".join(rows)}</table>{button}{_manage(registry, name, loaded.version)}</div>')
    info = {"name": name, "task": config.task, "input_size": config.input_size, "horizon": config.horizon,
            "targets": config.targets, "covariates": [c for c in config.covariates if c not in config.targets],
            "frequency": config.frequency, "bundled": _bundled(name, config), "panel": panel}
    return html, info


def render_page(registry: Registry, title: str, names: list[str]) -> str:
    """The page for names, as the registry serves them now (service/routes/models.py current_names)."""
    cards, models = [], []
    for name in names:
        html, info = _card(registry, name)
        cards.append(html)
        if info is not None and info["task"] == "forecast":
            models.append(info)
    options = "".join(f'<option value="{escape(m["name"])}">{escape(m["name"])}</option>' for m in models)
    data = json.dumps(models).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><link rel="stylesheet" href="/static/page.css"><link rel="icon" href="data:,"></head>
<body>
<header><h1>{escape(title)}</h1><nav><a href="/docs">API docs</a><a href="/redoc">ReDoc</a>
<a href="/metrics">metrics</a></nav>
<label style="margin-left:auto">API key (to train, promote, delete)
<input id="api-key" type="password" size="14"></label></header>
<main>
<h2>Models <span id="models-status" class="status"></span></h2>
<div class="cards" id="models">{"".join(cards)}</div>

<h2 id="forecast">Forecast</h2>
<div class="panel">
  <div class="row"><label>model<select id="model">{options}</select></label>
    <button id="run-bundled" type="button">Use the model's history</button>
    <label class="check"><input id="interpolate" type="checkbox"> fill blank cells by linear interpolation
      (otherwise a blank is refused, as the API does)</label></div>
  <div class="row" id="series-row" hidden>
    <label>series of this panel model, by id (type to search)<input id="series-id" list="series-ids" size="28"
      autocomplete="off" spellcheck="false"></label><datalist id="series-ids"></datalist>
    <button id="run-series" type="button">Forecast this series</button><span id="series-count" class="status"></span>
  </div>
  <div class="row" style="align-items:stretch">
    <label style="flex:2">values, oldest first (commas, spaces or new lines; at least the model's input size)
      <textarea id="values" placeholder="780.1, 781.3, 779.9, ..."></textarea></label>
    <div id="drop" style="flex:1">Drop a CSV here<br><small>a column named like the model's target (and its
      covariates), a time column for dates on the axis</small><br><input id="csv" type="file" accept=".csv,text/csv">
    </div>
  </div>
  <div class="row"><button id="run-values" type="button" class="secondary">Forecast these values</button>
    <span id="forecast-status" class="status"></span></div>
  <div id="chart"></div>
</div>

<h2>Train a model from a CSV</h2>
<form class="panel" id="train-form">
  <div class="row">
    <label>CSV file<input id="train-file" type="file" accept=".csv,text/csv" required></label>
    <label>model name<input id="train-name" value="my-model" required
      pattern="{escape(store.NAME_REGEX.strip("^$"))}"></label>
    <label>target column<input id="train-target" value="value" required></label>
    <label>time column (optional)<input id="train-time" size="10"></label>
    <label>frequency (optional: D, h, B...)<input id="train-frequency" size="6"></label>
    <label>input size<input id="train-input" type="number" min="1" value="30" style="width:80px"></label>
    <label>horizon<input id="train-horizon" type="number" min="1" value="5" style="width:70px"></label>
    <label>epochs<input id="train-epochs" type="number" min="1" value="30" style="width:70px"></label>
    <label class="check"><input id="train-interpolate" type="checkbox"> interpolate blanks and skipped times
      (otherwise refused)</label>
    <button type="submit">Train</button>
  </div>
  <div class="row"><progress id="train-progress" value="0" max="1"></progress>
    <span id="train-status" class="status"></span></div>
</form>

<h2>Recent training jobs</h2>
<div class="panel"><table class="jobs"><thead><tr><th>created (UTC)</th><th>model</th><th>status</th>
<th>epoch</th><th>validation loss</th><th>version</th><th>note</th></tr></thead><tbody id="jobs-body"></tbody>
</table></div>
</main>
<script type="application/json" id="models-data">{data}</script>
<script src="/static/series.js"></script>
<script src="/static/page.js"></script>
</body></html>"""


def install_page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        registry: Registry = request.app.state.registry
        return HTMLResponse(render_page(registry, request.app.title, await current_names(registry)))

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise Problem(404, f"no asset {name!r}")
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
