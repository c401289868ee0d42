"""Signed URLs: download links (one or many) and upload links, as storage-api issues them.

A token is an HS256 JWT signed with the stack's JWT secret (verified with no clock leeway):
`{url: "<bucket>/<key>", scope: "download"|"upload", iat, exp}` (+ `transformations`; upload
tokens carry `owner` and `upsert`).
Creating one requires that the caller can SELECT the object (download) or INSERT it (upload);
using one needs no JWT. A token for another path or scope is `InvalidSignature`; a forged,
malformed or expired one is `InvalidJWT` — both HTTP 400, as storage-api answers.
"""

from __future__ import annotations

import time
from typing import Any

import jwt as pyjwt

from core.jwt import encode
from localbase.storage import rules
from localbase.storage.access import Caller
from localbase.storage.context import Storage, bucket_as_admin
from localbase.storage.errors import invalid_jwt, invalid_request, invalid_signature, no_such_key
from localbase.storage.writes import INSERT, UPSERT, probe_write

MISSING = "Either the object does not exist or you do not have access to it"


def _token(storage: Storage, claims: dict[str, Any], seconds: int) -> str:
    now = int(time.time())
    return encode({**claims, "iat": now, "exp": now + seconds}, storage.url_secret)


def verify(storage: Storage, token: str | None, bucket_id: str, key: str, scope: str) -> dict[str, Any]:
    if not token:
        raise invalid_request("querystring must have required property 'token'")
    try:
        # No clock leeway: a signed link ends exactly when it says (jose in storage-api allows none).
        claims: dict[str, Any] = pyjwt.decode(
            token, storage.url_secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False}
        )
    except pyjwt.ExpiredSignatureError as exc:
        raise invalid_jwt('"exp" claim timestamp check failed') from exc
    except pyjwt.InvalidSignatureError as exc:
        raise invalid_jwt("signature verification failed") from exc
    except pyjwt.PyJWTError as exc:
        raise invalid_jwt(str(exc) or "Invalid Compact JWS") from exc
    if claims.get("url") != f"{bucket_id}/{key}":
        raise invalid_signature()
    if claims.get("scope", scope) != scope:
        raise invalid_signature(f"Token is not scoped for {scope}")
    return claims


async def _visible(storage: Storage, caller: Caller, bucket_id: str, keys: list[str]) -> set[str]:
    async with storage.access.as_caller(caller, "storage.object.sign") as conn:
        rows = await conn.fetch(
            "select name from storage.objects where bucket_id = $1 and name = any($2::text[])",
            rules.bucket_ref(bucket_id),
            keys,
        )
    return {row["name"] for row in rows}


def _download_claims(bucket_id: str, key: str, transform: object) -> tuple[dict[str, Any], str]:
    claims: dict[str, Any] = {"url": f"{bucket_id}/{key}", "scope": "download"}
    route = "object/sign"
    if isinstance(transform, dict) and transform:
        claims["transformations"] = ",".join(f"{k}:{v}" for k, v in sorted(transform.items()))
        route = "render/image/sign"
    return claims, route


async def sign_one(storage: Storage, caller: Caller, bucket_id: str, key: str, body: dict[str, Any]) -> dict[str, str]:
    rules.object_key(key)
    seconds = rules.expires_in(body.get("expiresIn"))
    if key not in await _visible(storage, caller, bucket_id, [key]):
        raise no_such_key()
    claims, route = _download_claims(bucket_id, key, body.get("transform"))
    return {"signedURL": f"/{route}/{bucket_id}/{key}?token={_token(storage, claims, seconds)}"}


async def sign_many(storage: Storage, caller: Caller, bucket_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    seconds = rules.expires_in(body.get("expiresIn"))
    paths = body.get("paths")
    if not isinstance(paths, list) or not 1 <= len(paths) <= 1000 or not all(isinstance(p, str) for p in paths):
        raise invalid_request("body/paths must be an array of 1 to 1000 strings")
    visible = await _visible(storage, caller, bucket_id, paths)
    out: list[dict[str, Any]] = []
    for path in paths:
        if path in visible:
            claims, _ = _download_claims(bucket_id, path, None)
            url = f"/object/sign/{bucket_id}/{path}?token={_token(storage, claims, seconds)}"
            out.append({"error": None, "path": path, "signedURL": url})
        else:
            out.append({"error": MISSING, "path": path, "signedURL": None})
    return out


async def sign_upload(storage: Storage, caller: Caller, bucket_id: str, key: str, *, upsert: bool) -> dict[str, str]:
    rules.object_key(key)
    await bucket_as_admin(storage, bucket_id)
    statement = UPSERT if upsert else INSERT
    await probe_write(storage, caller, statement, bucket_id, key)
    claims = {"owner": caller.sub, "url": f"{bucket_id}/{key}", "upsert": upsert, "scope": "upload"}
    token = _token(storage, claims, storage.upload_url_expiry)
    return {"url": f"/object/upload/sign/{bucket_id}/{key}?token={token}", "token": token}
