"""One error format across /v1: RFC 9457 problem details, with the path of the offending field; /v2 (the
Open Inference Protocol) answers {"error": "..."} as its clients expect."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Problem(Exception):
    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers


log = logging.getLogger(__name__)
TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 408: "Request Timeout", 409: "Conflict",
          413: "Content Too Large",
          422: "Unprocessable Content", 500: "Internal Server Error", 503: "Service Unavailable"}


def problem_response(request: Request | None, status: int, detail: str,
                     errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                     path: str | None = None) -> JSONResponse:
    path = request.url.path if request is not None else path
    if path is not None and (path == "/v2" or path.startswith("/v2/")):
        # The Open Inference Protocol's own form: its clients (tritonclient) read "error".
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """("body", "series", 0, "values", 5) -> "series[0].values[5]"."""
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for e in exc.errors():
            loc = e.get("loc", ())
            # pydantic reports union branches ("list[float]") in the path; they mean nothing to a caller.
            loc = [p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("float", "str")))]
            path = field_path(loc)
            if path not in seen:  # union branches repeat one mistake; the first reason is the useful one
                seen.add(path)
                errors.append({"field": path, "reason": e.get("msg", "invalid")})
        status = 400 if any(e.get("type") == "json_invalid" for e in exc.errors()) else 422
        first = errors[0] if errors else {"field": "", "reason": "invalid"}
        detail = f"{first['field'] or 'body'}: {first['reason']}"
        if status == 400:
            ctx = exc.errors()[0].get("ctx", {})
            detail = f"malformed JSON: {ctx.get('error', 'invalid')} at position {exc.errors()[0]['loc'][-1]}"
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type.lower() and any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
            # FastAPI reads a body as JSON only under a JSON content type: say so, not "a valid dictionary".
            detail = (f"the body was not read as JSON: send it with Content-Type: application/json "
                      f"(got {content_type or 'no Content-Type'})")
            errors = [{"field": "body", "reason": detail}]
        return problem_response(request, status, detail, errors)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's mistake: a problem document with an id the log line also carries,
        # so a report from a user leads to the traceback.
        request_id = uuid.uuid4().hex[:16]
        log.error("request %s %s %s failed: %s: %s", request_id, request.method, request.url.path,
                  type(exc).__name__, exc, exc_info=exc)
        response = problem_response(request, 500, f"internal error (request id {request_id}); the server log "
                                    "has the details under that id")
        response.headers["X-Request-Id"] = request_id
        return response


class BodyLimit:
    """413 for a body over the limit (by Content-Length up front or by counting a streamed body), 408
    for a body that does not arrive within timeout_s of the headers (a slowloris client)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    await self.too_large(scope, receive, send)
                    return
                break
        seen = 0
        response_started = timed_out = False
        body_done = scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE")
        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def counting_receive() -> Message:
            nonlocal seen, body_done, timed_out
            if body_done:  # after the body, receive() only waits for a disconnect: no deadline
                return await receive()
            # A timer, not asyncio.wait_for: no task per receive on the hot path.
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            expired = False

            def expire() -> None:
                nonlocal expired
                expired = True
                if task is not None:
                    task.cancel()

            timer = loop.call_at(deadline, expire)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if not expired or task is None:
                    raise
                task.uncancel()
                # Answer now (FastAPI would turn an exception while reading into a 400) and tell the
                # app the client is gone; whatever it sends afterwards is dropped.
                timed_out = True
                if not response_started:
                    await self.too_slow(scope, receive, send)
                return {"type": "http.disconnect"}
            finally:
                timer.cancel()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if timed_out:
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self.too_large(scope, receive, send)
        except Exception:
            if not timed_out:  # the app's own fault: the error handlers answer it
                raise

    async def too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(None, 408, f"the request body did not arrive within {self.timeout_s:g} s",
                                    headers={"Connection": "close"}, path=scope.get("path"))
        await response(scope, receive, send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(None, 413, f"request body over the limit of {self.max_bytes} bytes",
                                    path=scope.get("path"))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass

