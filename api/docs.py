"""The API's docs pages, served entirely from the project so they render offline.

Swagger UI's files come from the `swagger-ui-py` package on PyPI (its `static/` folder holds the
swagger-ui-dist build) and are served at /schema/assets/; the pages are Swagger UI at
/schema/swagger (and /schema) plus the raw schema at /schema/openapi.json. Litestar's other pages
(ReDoc, Stoplight Elements, RapiDoc, Scalar) load their scripts and the favicon from public CDNs,
so they are not offered: on a machine without internet they were blank.

`errors(...)` documents an operation's error answers: each in the API's envelope (ErrorEnvelope,
api/errors.py), with the codes a status carries (docs/ERROR_CODES.md). Every /api operation
documents 400, 500 and 503, a signed-in one 401, and each its own others; without it the schema
showed one 400 in Litestar's shape ({status_code, detail, extra}), which no route answers.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from litestar import Router
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from api.errors import ErrorEnvelope

ASSETS = "/schema/assets"

_MEANS = {
    400: "ValidationError: the request is malformed (not JSON, a wrong type, a missing field); `field` names it",
    401: "NotAuthenticated, InvalidToken, TokenExpired (InvalidCredentials at login): no valid Bearer token",
    403: "Forbidden, or the code saying why (RoleNotEditable, AdminOnly, EmailNotConfirmed, AccountDisabled, ...)",
    404: "SessionNotFound, RoleNotFound, ...: missing, or another user's (indistinguishable on purpose)",
    409: "UsernameTaken, EmailTaken, SlugTaken, MessageIdTaken, SessionIdTaken, ...: taken already",
    413: "PayloadTooLarge: the body is over the API's limit",
    422: "a value breaks a rule (EmptyValue, TooLong, InvalidText, WeakPassword, InvalidEmail, ...); `field` names it",
    429: "RateLimited, QuotaExceeded: try again after Retry-After seconds (QuotaExceeded carries `resets_at`)",
    500: "InternalError: our bug, logged with the request id",
    503: "UpstreamUnavailable: a backing service does not answer; try again",
    504: "AnswerTimeout: the answer is still being written; `message_id` is the stored question's",
}


def errors(*statuses: int, signed_in: bool = True) -> dict[int, ResponseSpec]:
    """The error answers of an operation that answers `statuses` besides 400, 500, 503 (and 401 when
    `signed_in`), all in the API's envelope."""
    wanted = {400, 500, 503, *statuses} | ({401} if signed_in else set())
    return {
        status: ResponseSpec(data_container=ErrorEnvelope, description=_MEANS[status], generate_examples=False)
        for status in sorted(wanted)
    }


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
