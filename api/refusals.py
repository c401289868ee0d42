"""The database's refusals of a question (migrations/*_plans_quotas.sql, `raise_refusal`) as API
errors. The database raises PostgREST's `PGRST` error whose body carries our stable code and a
JSON `details` string ({period, limit, used, requested, resets_at, model}); this module is the one
place that reads them, for REST answers (postgrest-py's APIError) and direct database errors alike.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgspec

from api.errors import (
    AccountDisabled,
    ApiError,
    BadRequest,
    FeatureNotAllowed,
    ModelNotAllowed,
    ModelNotFound,
    QuotaExceeded,
    RateLimited,
)

REFUSAL_CODES = frozenset(
    {"QuotaExceeded", "RateLimited", "AccountDisabled", "ModelNotAllowed", "ModelNotFound", "FeatureNotAllowed"}
)


def refusal_details(details: Any) -> dict[str, Any]:
    """The refusal's details object (PostgREST hands them over as a JSON string)."""
    if isinstance(details, dict):
        return details
    if isinstance(details, str) and details.startswith("{"):
        try:
            decoded = msgspec.json.decode(details)
        except msgspec.DecodeError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def seconds_until(moment: str | None) -> int:
    if not moment:
        return 60
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        return 60
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(math.ceil((when - datetime.now(UTC)).total_seconds()), 1)


def refusal_error(code: str, message: str | None, details: Any) -> ApiError | None:
    """Our error for a refusal code, or None when `code` is not one."""
    if code not in REFUSAL_CODES:
        return None
    facts = refusal_details(details)
    resets_at = facts.get("resets_at") if isinstance(facts.get("resets_at"), str) else None
    if code == "QuotaExceeded":
        return QuotaExceeded(seconds_until(resets_at), resets_at, message or None)
    if code == "RateLimited":
        return RateLimited(seconds_until(resets_at), message or None)
    if code == "AccountDisabled":
        return AccountDisabled(message or None)
    if code == "ModelNotAllowed":
        return ModelNotAllowed(message or None, field="model")
    if code == "FeatureNotAllowed":
        return FeatureNotAllowed(message or None, field=str(facts.get("feature") or "") or None)
    if code == "ModelNotFound":
        return ModelNotFound(message or None, field="model")
    return BadRequest(message or None)


def refusal_from_raise(message: str | None) -> ApiError | None:
    """A refusal as asyncpg sees it: SQLSTATE `PGRST`, the PostgREST body as the message."""
    try:
        body = msgspec.json.decode(message or "")
    except msgspec.DecodeError:
        return None
    if not isinstance(body, dict):
        return None
    return refusal_error(str(body.get("code") or ""), body.get("message"), body.get("details"))
