"""Fixtures for worker tests: the real stack, the fake DashScope in-process on a free port (with a
request log), users with sessions, workers in-process or as `python -m worker` subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiohttp import web

from core.jwt import encode
from core.settings import LlmSettings, Settings, SupabaseSettings, WorkerSettings, login_as
from fakescope.server import MULTIMODAL_PATH, NATIVE_PATH, FakeScope
from localbase.postgres import Cluster
from tests.conftest import LocalStack, isolated_stack
from worker.app import Worker
from worker.llm import Provider

T = TypeVar("T")

# Short leases and sweeps so retakes happen within a test's patience.
# Titles off unless a test asks for them: a title is a model call of its own, made once the first
# answer is final, and tests count and read the model calls of answers.
FAST_WORKER = {
    "WORKER_TITLES": "0",
    "WORKER_DATABASE_POOL": "4",  # each connection is opened and readied at start: fewer, sooner
    "WORKER_LEASE_SECONDS": "2",
    "WORKER_SWEEP_INTERVAL": "0.5",
    "WORKER_FLUSH_INTERVAL": "0.1",
    "WORKER_RETRY_BASE": "0.05",
    "WORKER_RETRY_CAP": "0.5",
    "WORKER_SHUTDOWN_GRACE": "5",
}


class RecordingFakeScope(FakeScope):
    """The fake, plus a log of every generation request body it received."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.requests: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path in (NATIVE_PATH, MULTIMODAL_PATH):
                self.requests.append(json.loads(await request.read()))
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.append(record)
        return app

    async def script(self, *overrides: dict[str, Any]) -> None:
        """Queue knob overrides (faults, pacing) for the next calls, through the admin API."""
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.base_url}/_fake/faults", json={"next": list(overrides)})
            response.raise_for_status()


@pytest.fixture(scope="session")
def stack(pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway and database of the worker tests' own: they count what their workers and fake
    model did, so no other test's worker may be answering questions in the same database."""
    with isolated_stack(pg_cluster, "cg_worker_stack", tmp_path_factory) as local:
        yield local


@pytest.fixture
async def fake() -> AsyncIterator[RecordingFakeScope]:
    scope = RecordingFakeScope(ttft=0.0, tokens_per_s=0.0, answer_tokens=30)
    await scope.start(host="127.0.0.1", port=0)
    try:
        yield scope
    finally:
        await scope.stop()


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 15.0, every: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; TimeoutError after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s (last value {value!r})")
        await asyncio.sleep(every)


def generator(events: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """A provider's stream as the async generator it is (the Provider protocol says AsyncIterator), for aclosing."""
    assert isinstance(events, AsyncGenerator), events
    return events


@dataclass
class Owner:
    """A user (created as GoTrue would), one chat session, and their access token."""

    user_id: str
    session_id: str
    token: str


async def make_owner(pg: asyncpg.Connection, stack: LocalStack, role_slug: str | None = None) -> Owner:
    user_id = str(uuid.uuid4())
    tag = user_id[:8]
    await pg.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data,
                                   email_confirmed_at, created_at, updated_at)
           values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, '{"provider":"email"}', now(), now(), now())""",
        user_id,
        f"w-{tag}@example.com",
        json.dumps({"username": f"w_{tag}"}),
    )
    role = await pg.fetchval("select id from ai_roles where slug = $1 and created_by is null", role_slug or "assistant")
    session_id = await pg.fetchval(
        "insert into chat_sessions (user_id, role_id, title) values ($1, $2, 'worker test') returning id", user_id, role
    )
    now = int(time.time())
    token = encode(
        {"sub": user_id, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 3600},
        stack.jwt_secret,
    )
    return Owner(user_id, str(session_id), token)


@pytest.fixture
async def owner(pg: asyncpg.Connection, stack: LocalStack) -> Owner:
    return await make_owner(pg, stack)


async def ask(pg: asyncpg.Connection, owner: Owner, content: str = "你好, what is 2+2?") -> str:
    """A user message committed straight to the database (the worker must not care how it came)."""
    return str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
            owner.session_id,
            owner.user_id,
            content,
        )
    )


async def final_answer(pg: asyncpg.Connection, question_id: str, within: float = 20.0) -> asyncpg.Record:
    async def probe() -> asyncpg.Record | None:
        row = await pg.fetchrow("select * from chat_messages where reply_to = $1", question_id)
        return row if row is not None and row["status"] in ("completed", "error", "cancelled") else None

    return await until(probe, within)


def worker_settings(
    stack: LocalStack, fake: FakeScope, api_key: str = "sk-test", llm: LlmSettings | None = None, **worker: Any
) -> Settings:
    fast = {
        "titles": False,
        "database_pool": 4,  # as FAST_WORKER
        "lease_seconds": 2.0,
        "sweep_interval": 0.5,
        "flush_interval": 0.1,
        "retry_base": 0.05,
        "retry_cap": 0.5,
        "realtime_retry_base": 0.05,
        "realtime_retry_cap": 0.25,
        "shutdown_grace": 5.0,
    }
    return Settings(
        supabase=SupabaseSettings(url=stack.url, jwt_secret=stack.jwt_secret),
        llm=llm or LlmSettings(api_key=api_key, dashscope_base_url=fake.native_url),
        worker=WorkerSettings(**{"database_url": login_as(stack.dsn, "authenticator"), **fast, **worker}),
    )


def sample(worker: Worker, name: str, **labels: str) -> float:
    """A metric's current value in `worker`'s registry (0 when never set)."""
    return worker.metrics.registry.get_sample_value(name, labels) or 0.0


@dataclass
class Workers:
    """In-process workers started by a test, all stopped at its end."""

    started: list[Worker] = field(default_factory=list)

    async def start(self, settings: Settings, provider: Provider | None = None) -> Worker:
        worker = Worker(settings, provider)
        await worker.start()
        self.started.append(worker)
        return worker

    async def stop_all(self) -> None:
        for worker in self.started:
            await worker.stop(grace=1.0)
        self.started.clear()


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    pool = Workers()
    try:
        yield pool
    finally:
        await pool.stop_all()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    worker_id: str
    log: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def spawn_worker(
    stack: LocalStack, tmp_path: Path
) -> Any:  # a factory; the processes are terminated at the end of the test
    processes: list[WorkerProcess] = []

    def spawn(fake: FakeScope, **env: str) -> WorkerProcess:
        worker_id = f"proc-{uuid.uuid4().hex[:8]}"
        log = tmp_path / f"{worker_id}.log"
        child_env = {
            **os.environ,
            "SUPABASE_URL": stack.url,
            "SUPABASE_JWT_SECRET": stack.jwt_secret,
            "WORKER_DATABASE_URL": login_as(stack.dsn, "authenticator"),
            "DASHSCOPE_API_KEY": "sk-test",
            "DASHSCOPE_HTTP_BASE_URL": fake.native_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "WORKER_ID": worker_id,
            **FAST_WORKER,
            **env,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
        )
        handle = WorkerProcess(process, worker_id, log)
        processes.append(handle)
        return handle

    yield spawn
    for handle in processes:
        handle.terminate()
