"""API keys as callers: a presented key is resolved by the database (`api_key_identity`, the only
door to the hashes, executable by the service role and by the API's login role before it becomes
anyone, see `CallerDatabase.as_login`) and the request then acts as the key's
user with a JWT minted here for a few minutes. Everything after that runs under RLS and the
user's plan exactly as the web app does; the token says `provider: api_key`, carries no admin
role whatever the user's, and cannot create further keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from api.compat.errors import OpenAIError, invalid_key
from api.database import CallerDatabase
from api.ratelimit import RateLimiter
from api.security import CurrentUser, bearer
from core import jwt

TOKEN_SECONDS = 300
KEY_PREFIX = "sk-cg-"
_IDENTITY = (
    "select key_id, user_id, key_name, status, is_anonymous, null::boolean as allowed, null::int as retry_after "
    "from public.api_key_identity($1)"
)
# The key, and for a live key one more send in its user's and its address's buckets: one round trip.
_IDENTITY_COUNTED = """
select k.key_id, k.user_id, k.key_name, k.status, k.is_anonymous, h.allowed, h.retry_after
  from public.api_key_identity($1) k
  left join lateral (
    select bool_and(x.allowed) as allowed, max(x.retry_after) filter (where not x.allowed) as retry_after
      from unnest(array['send:user:' || k.user_id::text, 'send:ip:' || $2], array[$3::int, $4::int])
             as b(bucket, max_hits),
           lateral public.api_rate_limit_hit(b.bucket, $5, b.max_hits) x
     where k.status = 'active'
  ) h on true
"""


@dataclass(frozen=True)
class KeyCaller:
    key_id: str
    key_name: str
    user_id: str
    token: str  # a short-lived user JWT: what every data call carries
    user: CurrentUser  # the same claims, for the API's own Postgres door


def key_claims(user_id: str, key_id: str, *, is_anonymous: bool) -> dict[str, Any]:
    """The claims a key's requests carry: the user's, for a few minutes, never an admin's; a guest's
    key is a guest's (`is_anonymous`: the guest limit holds)."""
    now = int(time.time())
    return {
        "aud": "authenticated",
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "sub": user_id,
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "api_key", "timestamp": now}],
        "app_metadata": {"provider": "api_key", "key_id": key_id},
        "user_metadata": {},
        "is_anonymous": is_anonymous,
    }


def mint_token(user_id: str, key_id: str, keys: jwt.KeySet, *, is_anonymous: bool) -> str:
    """A user JWT for a few minutes, signed as Auth signs them (the signing key, else HS256)."""
    return keys.sign(key_claims(user_id, key_id, is_anonymous=is_anonymous))


async def key_caller(
    headers: object, database: CallerDatabase, keys: jwt.KeySet, *, sending: tuple[RateLimiter, str] | None = None
) -> KeyCaller:
    """The key's caller; with `sending` (the limiter and the client's address) the request is also
    counted as one send, in the same round trip, and refused with RateLimited over the limit."""
    presented = bearer(headers)
    if not presented:
        raise OpenAIError(
            401,
            "You didn't provide an API key. Send it as 'Authorization: Bearer sk-cg-...'.",
            "invalid_request_error",
            "invalid_api_key",
        )
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        raise invalid_key()
    limits = sending[0].send_limits() if sending is not None else None
    if sending is not None and limits is not None:
        window, per_user, per_ip = limits
        found = await database.as_login(_IDENTITY_COUNTED, presented, sending[1], per_user, per_ip, window)
    else:
        found = await database.as_login(_IDENTITY, presented)
    if not found:
        raise invalid_key()
    status = found[0].get("status")
    if status == "revoked":
        raise invalid_key("This API key has been revoked.")
    if status == "expired":
        raise invalid_key("This API key has expired.")
    if status == "banned":  # an operator's ban (Auth's banned_until): every key of the user, at once
        raise OpenAIError(
            403,
            "This account is banned: its API keys are refused while the ban lasts.",
            "invalid_request_error",
            "account_banned",
        )
    key_id, user_id = str(found[0]["key_id"]), str(found[0]["user_id"])
    if sending is not None and found[0]["allowed"] is False:
        raise sending[0].refused_send(user_id, sending[1], int(found[0]["retry_after"] or 1))
    claims = key_claims(user_id, key_id, is_anonymous=bool(found[0]["is_anonymous"]))
    user = CurrentUser(user_id, keys.sign(claims), None, claims)
    return KeyCaller(key_id, str(found[0]["key_name"]), user_id, user.token, user)
