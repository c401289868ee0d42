"""What every generation call passes before an answer: its key, its JSON body, its knobs, a fault
scripted to answer before any output, and the refusal sent when one of them says no.

Auth: `Authorization: Bearer <key>`. With `FAKESCOPE_API_KEYS` set only those keys pass; otherwise
any non-empty key passes except keys starting with `sk-invalid`, which get 401 InvalidApiKey.
A call's knobs are the server's defaults, then its X-Fake-Options header, then what the fault plan
scripts for it (fakescope.options).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from fakescope import native
from fakescope.errors import FAULTS, ApiError, invalid_parameter
from fakescope.options import HEADER, FaultPlan, Knobs, override
from fakescope.stats import Stats
from fakescope.validate import Rejected

INVALID_KEY_PREFIX = "sk-invalid"
JSON_TYPE = "application/json"
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def authorized(request: web.BaseRequest, api_keys: tuple[str, ...]) -> bool:
    """Whether the request's bearer key passes (`api_keys`: FAKESCOPE_API_KEYS, empty for any key)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return False
    if api_keys:
        return key in api_keys
    return not key.startswith(INVALID_KEY_PREFIX)


def knobs_for(request: web.BaseRequest, defaults: Knobs, plan: FaultPlan) -> Knobs:
    """Defaults, then the request's X-Fake-Options, then whatever the fault plan scripts for this call."""
    changes: dict[str, Any] = {}
    raw = request.headers.get(HEADER)
    try:
        if raw:
            changes.update(_decode(raw))
        changes.update(plan.take())
        return override(defaults, changes)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
        raise Rejected(invalid_parameter(f"{HEADER}: {exc}")) from exc


async def read_body(request: web.Request) -> Any:
    """The request's JSON body; Rejected (InvalidParameter) when it is not JSON."""
    try:
        return _decode(await request.read())
    except msgspec.DecodeError as exc:
        raise Rejected(invalid_parameter("Request body is not valid JSON.")) from exc


def pre_stream_fault(knobs: Knobs, stats: Stats) -> None:
    """Raise the scripted fault that answers before any output, if there is one."""
    if knobs.fault in FAULTS:
        stats.faults[knobs.fault] += 1
        raise Rejected(FAULTS[knobs.fault])


def refusal(error: ApiError, request_id: str, stats: Stats, *, compat_mode: bool, knobs: Knobs | None) -> web.Response:
    """`error` as the protocol sends it (compatible mode's status and body, or native's; with the
    `sse_error` knob, native's as one SSE error frame under 200), counted in `stats`."""
    status = (error.compat_status or error.status) if compat_mode else error.status
    stats.errors += 1
    stats.statuses[status] += 1
    headers = {"x-request-id": request_id}
    if knobs is not None and knobs.retry_after is not None:
        headers["Retry-After"] = f"{knobs.retry_after:g}"
    if knobs is not None and knobs.sse_error and not compat_mode:
        headers["x-dashscope-finished"] = "true"
        frame = native.error_frame(1, error, request_id)
        return web.Response(body=frame, status=200, headers=headers, content_type="text/event-stream")
    payload = error.compat(request_id) if compat_mode else error.native(request_id)
    return web.Response(body=_encode(payload), status=status, headers=headers, content_type=JSON_TYPE)
