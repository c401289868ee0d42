"""The API's docs pages, served entirely from the project so they render offline.

Swagger UI's files come from the `swagger-ui-py` package on PyPI (its `static/` folder holds the
swagger-ui-dist build) and are served at /schema/assets/; the pages are Swagger UI at
/schema/swagger (and /schema) plus the raw schema at /schema/openapi.json. Litestar's other pages
(ReDoc, Stoplight Elements, RapiDoc, Scalar) load their scripts and the favicon from public CDNs,
so they are not offered: on a machine without internet they were blank.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from litestar import Router
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS = "/schema/assets"


def swagger_ui_dir() -> Path:
    """swagger-ui-py's static folder (found without importing the package and its web handlers)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: `make install` installs it")
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (static / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"swagger-ui-py has no Swagger UI build in {static}")
    return static


def render_plugins() -> list[OpenAPIRenderPlugin]:
    favicon = f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>"
    return [
        SwaggerRenderPlugin(
            js_url=f"{ASSETS}/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
            path="/swagger",
            favicon=favicon,
        ),
        JsonRenderPlugin(favicon=favicon),
    ]


def assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_dir()], include_in_schema=False, name="schema-assets"
    )
