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
from api.security import CurrentUser, bearer
from core import jwt

TOKEN_SECONDS = 300
KEY_PREFIX = "sk-cg-"


@dataclass(frozen=True)
class KeyCaller:
    key_id: str
    key_name: str
    user_id: str
    token: str  # a short-lived user JWT: what every data call carries
    user: CurrentUser  # the same claims, for the API's own Postgres door


def key_claims(user_id: str, key_id: str) -> dict[str, Any]:
    """The claims a key's requests carry: the user's, for a few minutes, never an admin's."""
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
        "is_anonymous": False,
    }


def mint_token(user_id: str, key_id: str, keys: jwt.KeySet) -> str:
    """A user JWT for a few minutes, signed as Auth signs them (the signing key, else HS256)."""
    return keys.sign(key_claims(user_id, key_id))


async def key_caller(headers: object, database: CallerDatabase, keys: jwt.KeySet) -> KeyCaller:
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
    found = await database.as_login("select * from public.api_key_identity($1)", presented)
    if not found:
        raise invalid_key()
    status = found[0].get("status")
    if status == "revoked":
        raise invalid_key("This API key has been revoked.")
    if status == "expired":
        raise invalid_key("This API key has expired.")
    key_id, user_id = str(found[0]["key_id"]), str(found[0]["user_id"])
    claims = key_claims(user_id, key_id)
    user = CurrentUser(user_id, keys.sign(claims), None, claims)
    return KeyCaller(key_id, str(found[0]["key_name"]), user_id, user.token, user)
