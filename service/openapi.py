"""The OpenAPI document: every error response documented as RFC 9457 problem details.

FastAPI documents its own 422 shape (HTTPValidationError); the API answers problem documents
instead, and a schema that says otherwise would send clients (and the fuzzer) the wrong way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

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
    "408": "the request body did not arrive within the read timeout",
    "409": "conflicts with the model's state",
    "413": "body, series or request over a limit",
    "422": "invalid input: the field and the reason",
    "500": "a fault in the server: the detail and X-Request-Id carry the id the log has",
    "503": "overloaded or unavailable; see Retry-After",
}


# A real problem document for each status, as the server sends it (field paths, reasons).
EXAMPLES: dict[str, dict[str, Any]] = {
    "400": {"detail": "malformed JSON: expected value at position 12"},
    "401": {"detail": "missing or wrong API key: send Authorization: Bearer KEY or X-API-Key: KEY"},
    "404": {"detail": "unknown model 'stok'; known: ['ecg', 'sf-temps', 'stock', 'weather', 'weather-type']"},
    "408": {"detail": "the request body did not arrive within 30 s"},
    "409": {"detail": "version v1 of 'stock' is live: promote another version first"},
    "413": {"detail": "series[0] has 200000 points; the limit is 100000",
            "errors": [{"field": "series[0].values", "reason": "at most 100000 points"}]},
    "422": {"detail": "series[0].values: 12 points; the model needs at least 30 (input_size)",
            "errors": [{"field": "series[0].values",
                        "reason": "12 points; the model needs at least 30 (input_size)"}]},
    "500": {"detail": "internal error (request id 3f2a9c0d1e4b5a67); the server log has the details under that id"},
    "503": {"detail": "overloaded: 16384 series queued, limit 16384; retry shortly"},
}
TITLES = {"400": "Bad Request", "401": "Unauthorized", "404": "Not Found", "408": "Request Timeout", "409": "Conflict",
          "500": "Internal Server Error",
          "413": "Content Too Large", "422": "Unprocessable Content", "503": "Service Unavailable"}
# Path and query parameters pre-filled with something that works on the bundled models.
PARAMETER_EXAMPLES = {"name": "stock", "version": "v1", "job_id": "3f2a9c0d1e4b5a67", "series_id": "M1"}


def _error(code: str, path: str) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
    if code in EXAMPLES:
        content["example"] = {"type": "about:blank", "title": TITLES[code], "status": int(code),
                              **EXAMPLES[code], "instance": path.replace("{name}", "stock")}
    return {"description": REASONS.get(code, "error"), "content": {"application/problem+json": content}}


def _inference_error(code: str) -> dict[str, Any]:
    """/v2 errors: the Open Inference Protocol's {"error": "..."}."""
    example = {"error": EXAMPLES.get(code, {}).get("detail", REASONS.get(code, "error"))}
    return {"description": REASONS.get(code, "error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceErrorBody"},
                                             "example": example}}}


def problem_openapi(app: FastAPI, protected: Callable[[str, str], bool],
                    bodies: Sequence[type[BaseModel]] = ()) -> Callable[[], dict[str, Any]]:
    """bodies: models that routes reading raw bytes refer to by $ref (their routes cannot declare them)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = PROBLEM
        if bodies:
            _, defs = models_json_schema([(model, "validation") for model in bodies],
                                         ref_template="#/components/schemas/{model}")
            components.update(defs.get("$defs", {}))
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                codes = {c for c in responses if c >= "400"}
                codes.add("500")  # any handler may fail; the answer is still a problem document
                if "requestBody" in operation:
                    codes |= {"400", "408", "413", "422"}
                if "parameters" in operation:
                    codes.add("422")
                if "{" in path:
                    codes.add("404")
                if path.endswith(("/forecast", "/forecast/file", "/classify", "/evaluate", "/infer")):
                    codes.add("503")
                if protected(method, path):
                    codes.add("401")
                for code in codes:
                    responses[code] = _inference_error(code) if path.startswith("/v2") else _error(code, path)
                for parameter in operation.get("parameters", []):
                    example = PARAMETER_EXAMPLES.get(parameter["name"])
                    if path.endswith("/classify") and parameter["name"] == "name":
                        example = "weather-type"
                    if example and (parameter["in"] == "path" or parameter["name"] != "version"):
                        parameter["example"] = example
        app.openapi_schema = schema
        return schema

    return openapi
