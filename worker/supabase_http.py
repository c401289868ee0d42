"""The worker's HTTP calls to Supabase: Realtime broadcasts and Storage reads, as service_role.

The same requests supabase-py would send (`POST /realtime/v1/api/broadcast`, `GET
/storage/v1/object/...`, apikey + bearer), so a hosted project works by configuration alone;
but on one pooled aiohttp session with msgspec bodies. Every turn makes several broadcasts, and
httpx cost about 0.8 ms of CPU per call against 0.25 ms here, measured on the local stack.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from worker.proxy import env_proxy

_JSON = {"Content-Type": "application/json"}


class SupabaseError(Exception):
    """A non-2xx answer; `status` and the body the server sent (PostgREST's error JSON)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def gone(path: str) -> SupabaseError:
    """What Storage would answer for `path` when the claim already found no such object."""
    body = {"statusCode": "404", "error": "not_found", "message": f"Object not found: {path}"}
    return SupabaseError(404, msgspec.json.encode(body).decode())


class SupabaseHttp:
    def __init__(self, url: str, service_role_key: str, *, max_connections: int, timeout: float) -> None:
        self._url = url.rstrip("/")
        self._headers = {"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}", **_JSON}
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    def _http(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running loop."""
        if self._session is None:
            proxy, proxy_auth = env_proxy(self._url)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=self._timeout,
                headers=self._headers,
                proxy=proxy,
                proxy_auth=proxy_auth,
            )
        return self._session

    async def download(self, bucket: str, path: str) -> bytes:
        """An object's bytes from Storage (`GET /storage/v1/object/<bucket>/<path>`, as service_role)."""
        body, _ = await self.download_if_changed(bucket, path, None)
        return body or b""

    async def download_if_changed(self, bucket: str, path: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """An object's bytes and ETag; (None, etag) when `etag` still names it (`If-None-Match`: 304,
        no body sent)."""
        headers = {"If-None-Match": etag} if etag else None
        async with self._http().get(
            f"{self._url}/storage/v1/object/{bucket}/{quote(path)}", headers=headers
        ) as response:
            body = await response.read()
            if response.status == 304:
                return None, etag
            if response.status >= 300:
                raise SupabaseError(response.status, body.decode(errors="replace"))
            return body, response.headers.get("ETag")

    async def head(self, bucket: str, path: str) -> None:
        """That the object exists (`HEAD /storage/v1/object/<bucket>/<path>`); SupabaseError when not."""
        async with self._http().head(f"{self._url}/storage/v1/object/{bucket}/{quote(path)}") as response:
            if response.status >= 300:
                raise SupabaseError(response.status, "")

    async def sign(self, bucket: str, path: str, seconds: int) -> str:
        """A signed download URL for an object, valid `seconds` (`POST /storage/v1/object/sign/...`)."""
        status, body = await self._post(f"/storage/v1/object/sign/{bucket}/{quote(path)}", {"expiresIn": seconds})
        if status >= 300:
            raise SupabaseError(status, body.decode(errors="replace"))
        signed = str(msgspec.json.decode(body)["signedURL"])
        return f"{self._url}/storage/v1{signed}" if signed.startswith("/") else signed

    async def broadcast(self, messages: list[dict[str, Any]]) -> int:
        """POST the messages to the Realtime broadcast API; returns the HTTP status."""
        status, _ = await self._post("/realtime/v1/api/broadcast", {"messages": messages})
        return status

    async def _post(self, path: str, body: Any) -> tuple[int, bytes]:
        async with self._http().post(self._url + path, data=msgspec.json.encode(body)) as response:
            return response.status, await response.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
