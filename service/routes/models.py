"""Model management: list, card, promote (and roll back), delete a version or a whole model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from model import store
from model.panel import MIN_POINTS
from service.deps import Auth, state
from service.errors import Problem
from service.registry import Registry
from service.schemas import PROMOTE_EXAMPLES, ModelCard, ModelSummary, PromoteRequest

router = APIRouter(tags=["models"])


def summary(registry: Registry, name: str) -> dict[str, Any]:
    loaded = registry.models.get(name)
    live = loaded.version if loaded else store.live_version(registry.root, name)
    out: dict[str, Any] = {"name": name, "live_version": live, "available": loaded is not None,
                           "reason": registry.errors.get(name)}
    if loaded:
        config = loaded.artifact.config
        panel = getattr(loaded.manifest, "panel", None) or {}
        out.update(task=config.task, input_size=config.input_size, horizon=config.horizon, targets=config.targets,
                   covariates=config.covariates, calendar=config.calendar,
                   warning=(loaded.manifest.metrics or {}).get("coverage_warning"),
                   min_points=panel.get("min_points", MIN_POINTS) if config.id_column else config.input_size,
                   id_column=config.id_column, series=panel.get("series"))
    return out


async def current_names(registry: Registry) -> list[str]:
    """The models in the store now, each serving what LIVE says now: the list and the page at / agree
    with the store whichever worker answers (one stat per model)."""
    await registry.follow_catalog()  # models added or deleted by another worker, a job, the CLI or by hand
    names = set(registry.names())
    for name in sorted(names):  # what another worker, a job or the CLI made live since
        await registry.follow_store(name)
    return sorted(names)


@router.get("/v1/models")
async def list_models(request: Request) -> list[ModelSummary]:
    """Every model in the store: task, input size, horizon, targets and the live version."""
    registry: Registry = state(request).registry
    return [ModelSummary(**summary(registry, n)) for n in await current_names(registry)]


@router.get("/v1/models/{name}", responses={404: {"description": "unknown model"}})
async def model_card(request: Request, name: str) -> ModelCard:
    """A model's card: its versions, the live one and its manifest (config, what `auto` chose,
    test metrics beside the baselines, interval calibration, training history)."""
    registry: Registry = state(request).registry
    if not store.NAME_PATTERN.match(name) or name not in set(registry.names()) | set(registry.errors):
        raise Problem(404, f"unknown model {name!r}")
    # A version another worker's job (or the CLI) made live: the card shows it at once, as a forecast would.
    await registry.follow_store(name)
    loaded = registry.models.get(name)
    return ModelCard(**summary(registry, name), versions=store.versions(registry.root, name),
                     manifest=loaded.manifest.to_dict() if loaded else None)


@router.post("/v1/models/{name}/promote", dependencies=[Auth],
             responses={404: {"description": "unknown model or version"}, 401: {"description": "API key needed"},
                        409: {"description": "the version does not load"}})
async def promote(request: Request, name: str,
                  body: Annotated[PromoteRequest, Body(openapi_examples=PROMOTE_EXAMPLES)]) -> ModelSummary:
    """Make a version live (or roll back to an older one): it is loaded first (409 if it cannot be),
    then the store's LIVE record is written and it serves from the next request, in every process."""
    registry: Registry = state(request).registry
    if not store.NAME_PATTERN.match(name) or body.version not in store.versions(registry.root, name):
        raise Problem(404, f"model {name!r} has no version {body.version!r}")
    try:
        await registry.promote(name, body.version)
    except Exception as exc:  # noqa: BLE001 - a version that does not load stays unpromoted
        raise Problem(409, f"version {body.version} does not load: {exc}") from exc
    return ModelSummary(**summary(registry, name))


@router.delete("/v1/models/{name}/versions/{version}", dependencies=[Auth], status_code=204,
               responses={404: {"description": "unknown version"}, 409: {"description": "version is live"}})
async def delete_version(request: Request, name: str, version: str) -> Response:
    """Delete a version that is not live (409 for the live one: promote another first)."""
    registry: Registry = state(request).registry
    if not store.NAME_PATTERN.match(name) or version not in store.versions(registry.root, name):
        raise Problem(404, f"model {name!r} has no version {version!r}")
    if version == store.live_version(registry.root, name):  # the LIVE record: what every process serves
        raise Problem(409, f"version {version} of {name!r} is live: promote another version first")
    try:  # checked again under the model's lock: another worker may have promoted it meanwhile
        store.delete_version(registry.root, name, version)
    except ValueError as exc:
        raise Problem(409, str(exc)) from exc
    except FileNotFoundError as exc:
        raise Problem(404, str(exc)) from exc
    registry.forget(name, version)
    return Response(status_code=204)


@router.delete("/v1/models/{name}", dependencies=[Auth], status_code=204,
               responses={401: {"description": "API key needed"}, 404: {"description": "unknown model"},
                          409: {"description": "a training job of this model is queued or running"}})
async def delete_model(request: Request, name: str) -> Response:
    """Delete a whole model: every version and its LIVE record, at once (a concurrent request finds
    the whole model or a 404). Refused (409) while one of its training jobs is queued or running:
    cancel the job first. A bundled default deleted here comes back when the server next starts,
    unless GRU_FORECAST_SEED_DEFAULTS=false."""
    app_state = state(request)
    registry: Registry = app_state.registry
    if not store.NAME_PATTERN.match(name) or not store.versions(registry.root, name):
        raise Problem(404, f"unknown model {name!r}")
    active = app_state.jobs.active(name)
    if active:
        raise Problem(409, f"model {name!r} has a training job queued or running ({', '.join(active)}): "
                      "cancel it first (POST /v1/jobs/{id}/cancel)")
    try:
        await registry.delete_model(name)
    except FileNotFoundError as exc:  # deleted meanwhile by another request
        raise Problem(404, str(exc)) from exc
    return Response(status_code=204)
