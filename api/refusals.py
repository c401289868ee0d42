"""The database's refusals of a question (migrations/*_plans_quotas.sql, `raise_refusal`) as API
errors. The database raises PostgREST's `PGRST` error whose body carries our stable code and a
JSON `details` string ({period, limit, used, requested, resets_at, model}); this module is the one
place that reads them, for REST answers (postgrest-py's APIError) and direct database errors alike.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from api.errors import (
    AccountDisabled,
    ApiError,
    BadRequest,
    FeatureNotAllowed,
    InvalidToken,
    ModelNotAllowed,
    ModelNotFound,
    QuotaExceeded,
    RateLimited,
    RoleNotFound,
    Unprocessable,
    VisionModelNotAllowed,
)

# A foreign key violation (23503) whose missing key is an account: Auth's user or its profile. The
# key's value is left out when the caller may not read the referenced table (auth.users), as here.
_NO_ACCOUNT = re.compile(r'Key (?:\([a-z_]+\)=\([0-9a-f-]{36}\) )?is not present in table "(?:users|profiles)"\.')

REFUSAL_CODES = frozenset(
    {
        "QuotaExceeded",
        "RateLimited",
        "AccountDisabled",
        "ModelNotAllowed",
        "VisionModelNotAllowed",
        "ModelNotFound",
        "FeatureNotAllowed",
        "RoleNotFound",
        "InvalidCursor",
        "MaxTokensTooLarge",
        "ThinkingBudgetTooLarge",
    }
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
    if code == "VisionModelNotAllowed":
        return VisionModelNotAllowed(message or None, field="model")
    if code == "FeatureNotAllowed":
        return FeatureNotAllowed(message or None, field=str(facts.get("feature") or "") or None)
    if code == "ModelNotFound":
        return ModelNotFound(message or None, field="model")
    if code == "RoleNotFound":  # a question or chat naming a role that cannot answer it
        return RoleNotFound(message or None, field="role_id")
    if code == "MaxTokensTooLarge":  # a question's max_tokens past its model's own (question_contexts_admit)
        return BadRequest(message or None, field="max_tokens", code="MaxTokensTooLarge")
    if code == "ThinkingBudgetTooLarge":  # a question's budget past its model's longest thought (the same)
        return BadRequest(message or None, field="thinking_budget", code="ThinkingBudgetTooLarge")
    if code == "InvalidCursor":  # a search's cursor it did not give (search_message_hits)
        return Unprocessable(message or None, field="cursor", code="InvalidCursor")
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


def missing_account(code: str, details: Any) -> ApiError | None:
    """401 InvalidToken for a write that names an account that no longer exists, else None.

    Every row the API writes for a caller is the caller's own (RLS checks `user_id = auth.uid()`,
    and the other doors' functions write for auth.uid()), so the account such a violation misses
    is the caller's: its token outlived the account's deletion (it stays valid until it expires,
    as Supabase's do). Said from the failing write's own error, without asking Auth each request."""
    if code == "23503" and isinstance(details, str) and _NO_ACCOUNT.fullmatch(details.strip()):
        return InvalidToken("The token's account no longer exists.")
    return None
