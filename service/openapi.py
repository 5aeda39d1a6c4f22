"""The OpenAPI document: every error response documented as RFC 9457 problem details.

FastAPI documents its own 422 shape (HTTPValidationError); the API answers problem documents
instead, and a schema that says otherwise would send clients (and the fuzzer) the wrong way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
REASONS = {
    "400": "malformed JSON or CSV",
    "401": "API key missing or wrong",
    "404": "unknown model, version or job",
    "409": "conflicts with the model's state",
    "413": "body, series or request over a limit",
    "422": "invalid input: the field and the reason",
    "503": "overloaded or unavailable; see Retry-After",
}


def _error(code: str) -> dict[str, Any]:
    return {"description": REASONS.get(code, "error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def problem_openapi(app: FastAPI, protected: Callable[[str, str], bool]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = PROBLEM
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                codes = {c for c in responses if c >= "400"}
                if "requestBody" in operation:
                    codes |= {"400", "413", "422"}
                if "parameters" in operation:
                    codes.add("422")
                if "{" in path:
                    codes.add("404")
                if path.endswith(("/forecast", "/classify", "/evaluate")):
                    codes.add("503")
                if protected(method, path):
                    codes.add("401")
                for code in codes:
                    responses[code] = _error(code)
        app.openapi_schema = schema
        return schema

    return openapi
