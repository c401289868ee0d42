"""A door of the local stack as the fuzz suites knock on it: `DoorRequest` (one request, with the
bearer it is sent as), `Door` (sends requests, judges each answer: below 500, and a refused one
changed no row), `run_door` (a Hypothesis strategy of requests through a door) and `LogWatch`
(what a server logged as an error while its door was knocked on)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, reject
from hypothesis import strategies as st

from tests.conftest import LocalStack
from tests.fuzz.conftest import Fingerprint, FuzzReport, FuzzUser
from tests.fuzz.hostile import FUZZ, fuzz_settings, json_bytes, url_part

CLIENT_URL_LIMIT = 65536  # httpx's longest URL (httpx/_urlparse.py MAX_URL_LENGTH)


@dataclass(frozen=True)
class DoorRequest:
    """One request at a door; `who` picks the bearer: the fuzz user, anon, service or junk."""

    name: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    raw: bytes | None = None
    who: str = "user"
    headers: dict[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DoorRequest({self.name!r}, {self.method} {self.url()[:300]!r}, body={self.body!r:.300}, who={self.who})"
        )

    def url(self) -> str:
        query = "&".join(f"{url_part(k)}={url_part(v)}" for k, v in self.params)
        return self.path + (f"?{query}" if query else "")


class LogWatch:
    """A server's log from now on, for "nothing logged as an error"."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0

    def errors(self) -> list[str]:
        """The ERROR lines (JSON lines at that level) and tracebacks logged since the watch began."""
        with open(self.log, "rb") as log:
            log.seek(self.offset)
            lines = log.read().decode(errors="replace").splitlines()
        return [line[:2000] for line in lines if '"level": "ERROR"' in line or "Traceback" in line]


def header_safe(text: str) -> bytes:
    """A hostile header value that can still be sent (no control characters, no surrounding blanks;
    bytes as UTF-8): HTTP itself forbids the rest."""
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")[:8000].strip(" ")
    return cleaned.encode("utf-8", "surrogatepass")


class Door:
    """Sends DoorRequests at the gateway, judges each answer, and keeps the report."""

    def __init__(self, stack: LocalStack, user: FuzzUser, fingerprint: Fingerprint, report: FuzzReport, suite: str):
        self.stack = stack
        self.tokens = {
            "user": user.access_token,
            "anon": stack.anon_key,
            "service": stack.service_role_key,
            "junk": "not.a.jwt",
            "hostile": "\u202e'; drop table auth.users; --",
        }
        self.http = httpx.Client(base_url=stack.url, trust_env=False, timeout=60)
        self.fingerprint = fingerprint
        self.report = report.suite(suite)
        self.baseline = fingerprint.take()

    def send(self, request: DoorRequest) -> None:
        headers: dict[str, Any] = {"apikey": self.stack.anon_key, **request.headers}
        if request.who == "service":
            headers["apikey"] = self.stack.service_role_key
        headers["Authorization"] = header_safe(f"Bearer {self.tokens[request.who]}")
        content = (
            request.raw if request.raw is not None else (json_bytes(request.body) if request.body is not None else None)
        )
        if content is not None:
            headers.setdefault("Content-Type", "application/json")
        url = request.url()
        if len(url) > CLIENT_URL_LIMIT:
            reject()  # no client here can send it (httpx refuses before any byte goes out)
        label = f"{request.method} {url[:200]}"
        try:
            response = self.http.request(request.method, url, content=content, headers=headers)
            status = response.status_code
            text = response.text[:300]
        except httpx.RemoteProtocolError as exc:  # the server hung up instead of answering
            status, text = 0, repr(exc)
        self.report.count(request.name, status)
        if status == 0 or status >= 500:
            self.report.failures.append(f"{label} -> {status}: {text}")
        self.baseline, changed = self.fingerprint.step(self.baseline)
        if 400 <= status < 500 and changed:
            self.report.failures.append(f"{label} refused ({status}) but changed {changed}")

    def close(self) -> None:
        self.http.close()


def send_found(door: Door, requests: Iterable[DoorRequest]) -> None:
    """Send the cases fuzzing once found (a door's FOUND) and judge them as the fuzz does."""
    try:
        for request in requests:
            door.send(request)
    finally:
        door.close()
    assert door.report.failures == [], "\n".join(door.report.failures)


def run_door(door: Door, strategy: st.SearchStrategy[DoorRequest], fixed: int, budget: int) -> None:
    try:

        @given(request=strategy)
        @fuzz_settings(fixed, fuzz=budget)
        def probe(request: DoorRequest) -> None:
            door.send(request)

        probe()
    finally:
        door.close()
    assert door.stack.process is not None
    assert door.stack.process.poll() is None, "the gateway died"
    assert door.report.failures == [], "\n".join(door.report.failures)
    if FUZZ:
        assert door.report.requests >= budget, f"{door.report.requests} requests sent of {budget}"
