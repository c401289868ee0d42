"""Real PostgreSQL for every test: one throwaway cluster per test session on a free port, a
template database migrated once, and cheap per-test clones (CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from realtime import RealtimeChannelOptions
from xdist.scheduler import LoadScopeScheduling

from core.settings import Settings
from localbase.migrate import migrate
from localbase.postgres import Cluster

TEMPLATE = "cg_template"


# The suite's servers listen on ports from a block of their own per xdist process, below the kernel's
# ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default), handed out in turn. A port
# picked with bind(0) is an ephemeral one, which the run's other process could be handed as well
# before either server bound it: in a fresh clone's run on 12-04 a server started on a port the other
# session's server had taken, failed to bind, while its readiness check was answered by that other
# server, so one session's tests wrote into the other's database. The start within the block follows
# the process id, so two runs on one machine seldom meet either.
_PORT_BASE, _PORT_BLOCK = 12000, 4000


def _port_block() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = _PORT_BASE + (int(worker) if worker.isdigit() else 0) * _PORT_BLOCK
    start = os.getpid() % _PORT_BLOCK
    return (low + (start + step) % _PORT_BLOCK for step in range(_PORT_BLOCK))


_PORTS = _port_block()


def free_port() -> int:
    """A port of this test process's block that nothing listens on; never the same one twice."""
    for port in _PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("this test process has used every port of its block")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="cg-test-pg-"))
    root.chmod(0o755)  # PostgreSQL runs as `postgres` and must reach its data folder
    cluster = Cluster(root / "data", port=free_port(), durable=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


async def _create_database(cluster: Cluster, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        clause = f' template "{template}"' if template else ""
        await conn.execute(f'create database "{name}"{clause}')
    finally:
        await conn.close()


async def _drop_database(cluster: Cluster, name: str) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_dsn(pg_cluster: Cluster) -> str:
    """A database with the Supabase base schema and every migration applied, used as a template."""

    async def build() -> None:
        # Roles are cluster-wide, so the base schema applied here serves every clone.
        await _create_database(pg_cluster, TEMPLATE)
        await migrate(pg_cluster.dsn(TEMPLATE))

    asyncio.run(build())
    return pg_cluster.dsn(TEMPLATE)


class Clones:
    """Fresh clones of the migrated template, each made on a thread of its own while the test before
    the one that takes it runs (CREATE DATABASE ... TEMPLATE costs 0.2-1 s on a loaded machine, and
    a test setup used to wait for it every time). A clone is made for one test and dropped after it;
    the template never changes once migrated, so a clone made early is the same as one made late."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clones")
        self._next: Future[str] | None = None

    def _make(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_create_database(self.cluster, name, TEMPLATE))
        return name

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[str]:
        """A fresh migrated database, dropped afterwards; yields its DSN. The next one starts now."""
        ready = self._next if self._next is not None else self._maker.submit(self._make)
        self._next = None
        name = await asyncio.wrap_future(ready)
        self._next = self._maker.submit(self._make)
        try:
            yield self.cluster.dsn(name)
        finally:
            await _drop_database(self.cluster, name)

    def close(self) -> None:
        """Drop the clone made for a test that never came."""
        if self._next is not None:
            name = self._next.result()
            asyncio.run(_drop_database(self.cluster, name))
        self._maker.shutdown()


@pytest.fixture(scope="session")
def clones(pg_cluster: Cluster, template_dsn: str) -> Iterator[Clones]:
    made = Clones(pg_cluster)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
async def db_dsn(clones: Clones) -> AsyncIterator[str]:
    """A fresh migrated database for one test."""
    async with clones.fresh() as dsn:
        yield dsn


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to a fresh migrated database."""
    conn = await asyncpg.connect(db_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def module_db(clones: Clones) -> AsyncIterator[asyncpg.Connection]:
    """One fresh migrated database for every test of a module whose tests never commit (each runs
    in a transaction that `acting_as` always rolls back), so all of them see the same fixture data."""
    async with clones.fresh() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            yield conn
        finally:
            await conn.close()


def clone_template(cluster: Cluster, name: str) -> str:
    """A migrated database `name` cloned from the template; its DSN."""
    asyncio.run(_create_database(cluster, name, TEMPLATE))
    return cluster.dsn(name)


@pytest.fixture(scope="session")
def stack_db_dsn(pg_cluster: Cluster, template_dsn: str) -> str:
    """One migrated database shared by the session's running stack (gateway, worker, API)."""
    return clone_template(pg_cluster, "cg_stack")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Loopback only; never a proxy for our own servers.
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


class _BrowserJourneysTogether(LoadScopeScheduling):  # type: ignore[misc]  # pytest-xdist ships no types
    """`make test` runs on two processes (pytest-xdist, `-n 2`), each a session of its own: its own
    cluster on a free port, template, clones and stack, so they share nothing but the machine. Every
    test is a unit of work on its own but those of tests/e2e, which are one: their session runs all
    the browser journeys at once (tests/e2e/conftest.py), and must run once. Being the largest unit,
    it starts first (xdist orders units by size)."""

    def _split_scope(self, nodeid: str) -> str:
        return "tests/e2e" if nodeid.startswith("tests/e2e/") else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> _BrowserJourneysTogether:
    return _BrowserJourneysTogether(config, log)


# --- the running local stack -------------------------------------------------------------------


@dataclass
class LocalStack:
    """`python -m localbase serve` in a child process against the session's stack database."""

    url: str
    port: int
    dsn: str
    anon_key: str
    service_role_key: str
    jwt_secret: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localbase", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.env["LOCALBASE_LOG"], "ab"),  # noqa: SIM115 - the child owns it
        )
        wait_for_http(f"{self.url}/auth/v1/health", self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_for_http(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    """Poll until `url` answers with success from a live `process`, failing fast if it died. Until
    then a failure status (a server still starting, or someone else's on a port that was free when
    it was picked) is polled again, and the suite never goes on talking to a server that is not ours."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url} ({last})")
        try:
            answer = httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            pass
        else:
            if answer.is_success and (process is None or process.poll() is None):
                return
            last = f"last answer {answer.status_code}"
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer with success within {timeout}s ({last})")


# The product's supabase/config.toml turns e-mail confirmations and Auth's rate limits on. Suites
# that do not test those sign users up with a session at once and without limits, as a project with
# `enable_confirmations = false` would; the confirmation suites (tests/localbase/test_mailbox.py,
# tests/api/test_email_confirmation.py, tests/e2e/test_signup_email.py) set these to "" and so run
# with the file's settings.
# GoTrue has no "off" for a limit (0 means none allowed), so "without limits" is a rate no suite
# reaches: a billion an hour, or per 5 minutes (a bucket of 30 refilled in microseconds).
UNLIMITED = "1000000000"
AUTH_TEST_ENV = {
    "GOTRUE_MAILER_AUTOCONFIRM": "true",
    "GOTRUE_RATE_LIMIT_EMAIL_SENT": UNLIMITED,
    "GOTRUE_RATE_LIMIT_OTP": UNLIMITED,
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": UNLIMITED,
    "GOTRUE_RATE_LIMIT_VERIFY": UNLIMITED,
    "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS": UNLIMITED,
    "GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY": UNLIMITED,
}
PRODUCT_AUTH_ENV = dict.fromkeys(AUTH_TEST_ENV, "")


# Every gateway on one database shares one Storage root, as production requires (README,
# Storage): the byte-deletion queue lives in the database and any gateway may drain it, so a
# second gateway with a root of its own would take queue rows and unlink nothing.
_STORAGE_ROOTS: dict[str, Path] = {}


def stack_env(dsn: str, port: int, log_path: Path) -> dict[str, str]:
    settings = Settings()
    storage_root = _STORAGE_ROOTS.setdefault(dsn, log_path.parent / "storage")
    return {
        **os.environ,
        **AUTH_TEST_ENV,
        "DATABASE_URL": dsn,
        "SUPABASE_URL": f"http://127.0.0.1:{port}",
        "LOCALBASE_PORT": str(port),
        "LOCALBASE_MAIL_DIR": str(log_path.parent / "mail"),
        "STORAGE_ROOT": str(storage_root),
        "LOCALBASE_LOG": str(log_path),
        "SUPABASE_JWT_SECRET": settings.supabase.jwt_secret,
        "NO_PROXY": "127.0.0.1,localhost",
        # bcrypt's lowest cost, as the drills use: every sign-up and password sign-in hashes once,
        # ~65 ms of CPU at the default cost of 10 and ~1 ms at 4, over hundreds of them a session.
        # What is checked (a hash is stored, the right password matches, a wrong one does not)
        # does not depend on the cost, which the hash itself records.
        "LOCALBASE_BCRYPT_COST": "4",
        # [auth.email] max_frequency: the CLI's 1s would refuse a second mail to one address (a
        # resend, a reset after a sign-up) as often as a test happens to ask within the second.
        # Suites here wait 1 ns; tests/localbase/auth/test_email_frequency.py gives it a minute.
        "GOTRUE_SMTP_MAX_FREQUENCY": "1ns",
    }


def launch_stack(dsn: str, tmp_path_factory: pytest.TempPathFactory, **env: str) -> LocalStack:
    """Start a gateway on a free port against `dsn` (with `env` on top); the caller stops it."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("localbase") / "localbase.log"
    settings = Settings()
    local = LocalStack(
        url=f"http://127.0.0.1:{port}",
        port=port,
        dsn=dsn,
        anon_key=settings.supabase.anon_key,
        service_role_key=settings.supabase.service_role_key,
        jwt_secret=settings.supabase.jwt_secret,
        env={**stack_env(dsn, port, log_path), **env},
    )
    local.start()
    return local


@contextmanager
def isolated_stack(
    cluster: Cluster, database: str, tmp_path_factory: pytest.TempPathFactory, **env: str
) -> Iterator[LocalStack]:
    """A gateway on a database of its own, for suites whose workers or counts must not meet others'."""
    local = launch_stack(clone_template(cluster, database), tmp_path_factory, **env)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack(stack_db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = launch_stack(stack_db_dsn, tmp_path_factory)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
async def pg(stack: LocalStack) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the running stack's database, for arranging data and checking what
    the services did."""
    conn = await asyncpg.connect(stack.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@dataclass
class SignedUpUser:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


def sign_up(stack: LocalStack, username: str | None = None, password: str = "password123") -> SignedUpUser:
    """A fresh confirmed user through the stack's GoTrue-compatible sign-up."""
    tag = uuid.uuid4().hex[:10]
    email = f"user-{tag}@example.com"
    response = httpx.post(
        f"{stack.url}/auth/v1/signup",
        headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01"},
        json={"email": email, "password": password, "data": {"username": username or f"user_{tag}"}},
        timeout=10,
    )
    response.raise_for_status()
    body = response.json()
    return SignedUpUser(body["user"]["id"], email, password, body["access_token"], body["refresh_token"])


@pytest.fixture
def user_a(stack: LocalStack) -> SignedUpUser:
    return sign_up(stack)


@pytest.fixture
def user_b(stack: LocalStack) -> SignedUpUser:
    return sign_up(stack)


Row = dict[str, Any]


def rows_of(data: object) -> list[Row]:
    """`data` (a client's JSON, e.g. supabase-py's `response.data`) as a list of rows; fails if it is not."""
    assert isinstance(data, list), data
    assert all(isinstance(row, dict) for row in data), data
    return cast(list[Row], data)


def channel_options(**config: object) -> RealtimeChannelOptions:
    """Channel options with only the `config` keys given, as supabase-js sends them (realtime-py's
    TypedDict demands broadcast, presence and private, though the client sends what it is given)."""
    return cast(RealtimeChannelOptions, {"config": config})


async def fake_received(fake_url: str) -> list[dict[str, Any]]:
    """The generation requests' bodies a fakescope at `fake_url` received, oldest first (its admin
    API, `GET /_fake/requests`): what a model was asked, prompts and parameters."""
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(f"{fake_url}/_fake/requests")
        response.raise_for_status()
        return [r["body"] for r in response.json()]
