"""/docs and /redoc with every asset served by the app itself (FastAPI's defaults load them from a CDN).

The asset files come from the fastapi-offline package. ReDoc's bundle still points its sidebar
logo at cdn.redoc.ly; the copy served here points it at a local file instead.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/docs-assets"
CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def install_docs(app: FastAPI) -> None:
    redoc_js = (ASSETS / "redoc.standalone.js").read_bytes().replace(CDN_LOGO, f"{PREFIX}/favicon.png".encode())
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{PREFIX}/swagger-ui.css",
                                   swagger_favicon_url=f"{PREFIX}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc",
                              redoc_js_url=f"{PREFIX}/redoc.standalone.js", redoc_favicon_url=f"{PREFIX}/favicon.png",
                              with_google_fonts=False)

    @app.get(f"{PREFIX}/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get(PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        allowed = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}
        path = ASSETS / (name if name in allowed else "favicon.png")
        return FileResponse(path, headers={"Cache-Control": "max-age=86400"})
