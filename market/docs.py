"""The interactive API docs (/docs, /redoc) served with the assets the `fastapi-offline` package ships,
so they work on an offline laptop or a city intranet: the pages reference no host but this one."""

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"


def install(app: FastAPI) -> None:
    """Call with an app created with `docs_url=None, redoc_url=None` (FastAPI's own pages use a CDN)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    def assets(request: Request) -> str:
        return request.scope.get("root_path", "") + ASSETS_URL

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} – Swagger UI",
            oauth2_redirect_url=root + app.swagger_ui_oauth2_redirect_url,
            swagger_js_url=f"{assets(request)}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets(request)}/swagger-ui.css",
            swagger_favicon_url=f"{assets(request)}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters)

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=request.scope.get("root_path", "") + app.openapi_url, title=f"{app.title} – ReDoc",
            redoc_js_url=f"{assets(request)}/redoc.standalone.js", redoc_favicon_url=f"{assets(request)}/favicon.png",
            with_google_fonts=False)

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route(app.swagger_ui_oauth2_redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
