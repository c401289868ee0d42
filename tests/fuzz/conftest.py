"""The fuzz suites' own world: a gateway on its own clone of the migrated database and an API in
front of it, with NO worker, so nothing writes to the database except the requests being fuzzed
(a refused request must leave it exactly as it was: `Fingerprint` proves it). Also the report
`make fuzz` prints and writes to bench/out/fuzz.json."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from core.jwt import encode
from localbase.postgres import Cluster
from tests.api.conftest import ApiProcess, start_api
from tests.conftest import LocalStack, isolated_stack
from tests.fuzz.hostile import FUZZ

REPORT = Path(__file__).resolve().parents[2] / "bench" / "out" / "fuzz.json"
# Written by refused requests on purpose: rate-limit counters, the audit trail. And Storage's queue
# of bytes to unlink, which a deletion fills and the gateway drains in the background, sometimes
# after the deletion's answer: it changes between two later requests (storage.objects, whose
# deletions fill it, is fingerprinted).
UNFINGERPRINTED = {"public.api_rate_limits", "auth.audit_log_entries", "storage.blob_deletions"}


@pytest.fixture(scope="session")
def fuzz_stack(
    pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with isolated_stack(pg_cluster, "cg_fuzz", tmp_path_factory) as local:
        yield local


@pytest.fixture(scope="session")
def fuzz_api(fuzz_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    process = start_api(fuzz_stack, tmp_path_factory.mktemp("fuzz-api") / "api.log")
    try:
        yield process
    finally:
        process.stop()


@dataclass
class FuzzUser:
    email: str
    password: str
    user_id: str
    access_token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="session")
def fuzz_user(fuzz_api: ApiProcess) -> FuzzUser:
    """A signed-in user of the fuzz world, through the API (so handlers past the auth check run)."""
    tag = uuid.uuid4().hex[:10]
    email, password = f"fuzz-{tag}@example.com", "password123"
    with httpx.Client(base_url=fuzz_api.url, trust_env=False, timeout=20) as client:
        client.post(
            "/api/auth/register", json={"email": email, "password": password, "username": f"fuzz_{tag}"}
        ).raise_for_status()
        login = client.post("/api/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        body = login.json()
    return FuzzUser(email, password, body["user"]["id"], body["access_token"])


@dataclass(frozen=True)
class World:
    """The fuzz user's session and what belongs to someone else: a session, a private role, a token."""

    user: FuzzUser
    session_id: str
    other_session_id: str
    other_role_id: str
    other_role_slug: str
    expired_token: str
    other_token: str


@pytest.fixture(scope="session")
def world(fuzz_api: ApiProcess, fuzz_stack: LocalStack, fuzz_user: FuzzUser) -> World:
    """A session of the fuzz user's, a token of theirs that expired, and another user (signed up
    through the API) with a session and a private role, for the doors' cross-user knocks."""
    tag = uuid.uuid4().hex[:10]
    with httpx.Client(base_url=fuzz_api.url, trust_env=False, timeout=20) as client:
        own = client.post("/api/sessions", json={}, headers=fuzz_user.bearer)
        own.raise_for_status()
        email, password = f"fuzz-other-{tag}@example.com", "password123"
        client.post(
            "/api/auth/register", json={"email": email, "password": password, "username": f"other_{tag}"}
        ).raise_for_status()
        login = client.post("/api/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        other_token = login.json()["access_token"]
        other = {"Authorization": f"Bearer {other_token}"}
        theirs = client.post("/api/sessions", json={}, headers=other)
        theirs.raise_for_status()
        role = client.post("/api/roles", json={"name": "Private", "system_prompt": "Say 'mine'."}, headers=other)
        role.raise_for_status()
    stale = encode(
        {"sub": fuzz_user.user_id, "role": "authenticated", "exp": int(time.time()) - 600}, fuzz_stack.jwt_secret
    )
    return World(
        fuzz_user,
        own.json()["session"]["id"],
        theirs.json()["session"]["id"],
        role.json()["role"]["uuid"],
        role.json()["role"]["id"],
        stale,
        other_token,
    )


class Fingerprint:
    """An md5 of every row of every table a request could change, for "refused means unchanged"."""

    def __init__(self, dsn: str) -> None:
        # The fuzz tests are synchronous (Hypothesis drives them), so the connection has a loop of its own.
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._loop.run_until_complete(asyncpg.connect(dsn))
        rows = self._loop.run_until_complete(
            self._conn.fetch(
                """select format('%I.%I', schemaname, tablename) as name from pg_tables
                    where schemaname in ('public', 'auth', 'storage') order by 1"""
            )
        )
        self.tables = [str(row["name"]) for row in rows if row["name"] not in UNFINGERPRINTED]
        parts = [
            f"(select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t)"
            for table in self.tables
        ]
        self._sql = "select array[" + ", ".join(parts) + "]::text[]"

    def take(self) -> dict[str, str]:
        hashes = self._loop.run_until_complete(self._conn.fetchval(self._sql))
        return dict(zip(self.tables, hashes, strict=True))

    def fetch(self, sql: str) -> list[asyncpg.Record]:
        """Rows of `sql` on the fuzz world's database, as its superuser."""
        return list(self._loop.run_until_complete(self._conn.fetch(sql)))

    def changed(self, before: dict[str, str]) -> list[str]:
        """The tables whose rows differ from `before`."""
        return self.step(before)[1]

    def step(self, before: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """A fingerprint taken now, and the tables whose rows differ from `before` in it."""
        after = self.take()
        return after, [table for table in self.tables if before.get(table) != after[table]]

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


@pytest.fixture(scope="session")
def fingerprint(fuzz_stack: LocalStack) -> Iterator[Fingerprint]:
    taker = Fingerprint(fuzz_stack.dsn)
    try:
        yield taker
    finally:
        taker.close()


@dataclass
class SuiteReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    expected_5xx: int = 0  # server statuses that are the designed answer (the OpenAI door's 504 timeout)

    def count(self, operation: str, status: int, *, expected: bool = False) -> None:
        self.requests += 1
        self.statuses[status] += 1
        self.operations[operation] += 1
        self.expected_5xx += expected and status >= 500


class FuzzReport:
    """What each suite sent and got; written to bench/out/fuzz.json by `make fuzz`."""

    def __init__(self) -> None:
        self.suites: dict[str, SuiteReport] = {}

    def suite(self, name: str) -> SuiteReport:
        return self.suites.setdefault(name, SuiteReport())

    def as_json(self) -> dict[str, Any]:
        return {
            name: {
                "requests": s.requests,
                "server_errors": sum(n for code, n in s.statuses.items() if code >= 500) - s.expected_5xx,
                "statuses": {str(k): v for k, v in sorted(s.statuses.items())},
                "operations": dict(sorted(s.operations.items())),
                "failures": s.failures[:50],
            }
            for name, s in self.suites.items()
        }


@pytest.fixture(scope="session")
def fuzz_report() -> Iterator[FuzzReport]:
    report = FuzzReport()
    yield report
    if FUZZ:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"mode": "random", "suites": report.as_json()}, ensure_ascii=False, indent=2))
