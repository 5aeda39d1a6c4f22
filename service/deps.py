"""What the routes share: app state, the API key check, model lookup and batch submission."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from fastapi import Depends, Request

from service.batcher import BatcherClosed, QueueFull
from service.errors import Problem
from service.registry import LoadedModel, ModelUnavailable, UnknownModel


def state(request: Request) -> Any:
    return request.app.state


def require_key(request: Request) -> None:
    """State-changing routes: with an API key configured, Bearer or X-API-Key must match it."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "missing or wrong API key: send Authorization: Bearer KEY or X-API-Key: KEY",
                      headers={"WWW-Authenticate": "Bearer"})


Auth = Depends(require_key)


def needs_key(method: str, path: str) -> bool:
    """The state-changing routes: everything but reading and the forecast family."""
    return method.lower() in ("post", "put", "patch", "delete") and not path.endswith(
        ("/forecast", "/forecast/file", "/classify", "/evaluate", "/infer", "/plot.svg"))


async def get_model(request: Request, name: str, version: str | None = None) -> LoadedModel:
    try:
        return await state(request).registry.get_version(name, version)  # type: ignore[no-any-return]
    except UnknownModel as exc:
        raise Problem(404, str(exc)) from exc
    except ModelUnavailable as exc:
        raise Problem(503, str(exc), headers={"Retry-After": "60"}) from exc


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body is read by now: the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def submit_or_leave(request: Request, loaded: LoadedModel, items: list[Any]) -> list[Any]:
    """The batch results, unless the client disconnects first: then its items are cancelled before a
    batch takes them (the batcher skips cancelled items), so a gone client costs no forward pass.

    Only a request that will not make the next batch (more than a batch already queued) watches its
    client: that is when waiting is long and a skipped item saves work, and the common case pays
    nothing (a watcher task per request cost ~10% of requests/s here).
    """
    batcher = loaded.batcher
    if batcher.queued < batcher.max_batch_size:
        return await batcher.submit(items)
    work = asyncio.ensure_future(batcher.submit(items))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not work.done():
        work.cancel()
        raise Problem(499, "the client closed the connection")  # nobody reads it; ends the handler
    return work.result()


async def submit(request: Request, name: str, version: str | None, items: list[Any],
                 loaded: LoadedModel | None = None) -> tuple[LoadedModel, list[Any]]:
    """Queue items on the model's batcher (loaded: the version the route already looked up); a swap
    in between retries on the new version once."""
    for attempt in range(2):
        if loaded is None or attempt:
            loaded = await get_model(request, name, version)
        try:
            return loaded, await submit_or_leave(request, loaded, items)
        except QueueFull as exc:
            raise Problem(503, f"overloaded: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc
        except BatcherClosed:
            continue
    raise Problem(503, "the server is shutting down", headers={"Retry-After": "5"})
