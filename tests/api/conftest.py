"""Fixtures for API tests: the real stack, the fake DashScope and a real worker in-process, and the
API itself as `python -m api` subprocesses (one shared, plus per-test ones with their own limits)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import openai
import pytest
from supabase import AsyncClient, acreate_client

from core.jwt import encode
from core.settings import LlmSettings, Settings, SupabaseSettings, WorkerSettings, login_as
from fakescope.server import FakeScope
from localbase.postgres import Cluster
from tests.conftest import LocalStack, free_port, isolated_stack, wait_for_http
from worker.app import Worker

T = TypeVar("T")

# Generous limits for the shared API; rate-limit tests start their own API with low ones.
SHARED_API_ENV = {
    "API_ANSWER_TIMEOUT": "30",
    "API_ANSWER_POLL_INTERVAL": "0.5",
    "API_RATE_SEND_PER_USER": "100000",
    "API_RATE_SEND_PER_IP": "100000",
    "API_RATE_AUTH_PER_IP": "100000",
    "API_WS_HEARTBEAT": "0.5",
}


@dataclass
class ApiProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_api(stack: LocalStack, log: Path, **env: str) -> ApiProcess:
    port = free_port()
    child_env = {
        **os.environ,
        "SUPABASE_URL": stack.url,
        "SUPABASE_JWT_SECRET": stack.jwt_secret,
        "DATABASE_URL": stack.dsn,
        "NO_PROXY": "127.0.0.1,localhost",
        **SHARED_API_ENV,
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port)],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
    )
    api = ApiProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for_http(f"{api.url}/schema/openapi.json", process)  # serving; /health is 503 while Auth is not
    except Exception:
        api.stop()
        raise
    return api


@pytest.fixture(scope="session")
def stack(pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway and database of the API tests' own: their worker answers every question it sees,
    which must not touch the questions other suites write (they assert on exact change streams)."""
    with isolated_stack(pg_cluster, "cg_api_stack", tmp_path_factory) as local:
        yield local


@pytest.fixture(scope="session")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    process = start_api(stack, tmp_path_factory.mktemp("api") / "api.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def spawn_api(stack: LocalStack, tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Start extra API replicas with their own settings; all stopped at the end of the test."""
    started: list[ApiProcess] = []

    def spawn(**env: str) -> ApiProcess:
        process = start_api(stack, tmp_path / f"api-{len(started)}.log", **env)
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.stop()


@pytest.fixture
def quiet_stack(
    pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """A stack of this test's own, with no worker unless the test starts one."""
    with isolated_stack(pg_cluster, f"cg_quota_{uuid.uuid4().hex[:8]}", tmp_path_factory) as local:
        yield local


@pytest.fixture(scope="session")
async def fake() -> AsyncIterator[FakeScope]:
    scope = FakeScope(ttft=0.05, tokens_per_s=400.0, tokens_per_event=2, answer_tokens=24)
    await scope.start(host="127.0.0.1", port=0)
    try:
        yield scope
    finally:
        await scope.stop()


@pytest.fixture(autouse=True)
def _fake_unscripted(request: pytest.FixtureRequest) -> Iterator[None]:
    """What a test scripted into the session's fake (paced or failing answers) ends with the test: one
    whose answer never came left its pacing queued, and the next test's answer took it (a clean-clone
    run, 12-05: a 34 s first token met a test that waits 1 s)."""
    yield
    if "fake" in request.fixturenames:
        fake: FakeScope = request.getfixturevalue("fake")
        fake.plan.clear()


@pytest.fixture(scope="session")
async def worker(stack: LocalStack, fake: FakeScope) -> AsyncIterator[Worker]:
    settings = Settings(
        supabase=SupabaseSettings(url=stack.url, jwt_secret=stack.jwt_secret),
        llm=LlmSettings(api_key="sk-test", dashscope_base_url=fake.native_url),
        worker=WorkerSettings(
            database_url=login_as(stack.dsn, "authenticator"),
            sweep_interval=0.5,
            flush_interval=0.1,
            lease_seconds=5.0,
        ),
    )
    running = Worker(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop(grace=1.0)


@pytest.fixture
async def http(api: ApiProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=40.0, trust_env=False) as client:
        yield client


@dataclass
class ApiUser:
    id: str
    email: str
    password: str
    username: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register_and_login(http: httpx.AsyncClient) -> ApiUser:
    tag = uuid.uuid4().hex[:10]
    email, password, username = f"api-{tag}@example.com", "password123", f"user_{tag}"
    registered = await http.post(
        "/api/auth/register", json={"username": username, "email": email, "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    body = login.json()
    return ApiUser(body["user"]["id"], email, password, username, body["access_token"], body["refresh_token"])


async def make_admin(stack: LocalStack, http: httpx.AsyncClient) -> ApiUser:
    """A user whom the service role made an admin (app_metadata), signed in again to carry it."""
    admin = await register_and_login(http)
    service = await acreate_client(stack.url, stack.service_role_key)
    await service.auth.admin.update_user_by_id(admin.id, {"app_metadata": {"role": "admin"}})
    login = await http.post("/api/auth/login", json={"email": admin.email, "password": admin.password})
    admin.access_token = login.json()["access_token"]
    return admin


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> ApiUser:
    return await register_and_login(http)


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> ApiUser:
    return await register_and_login(http)


async def new_session(http: httpx.AsyncClient, user: ApiUser, **fields: Any) -> dict[str, Any]:
    response = await http.post("/api/sessions", json=fields, headers=user.headers)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()["session"]
    return session


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 20.0, every: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(every)


def token_expiring_at(user: ApiUser, secret: str, exp: int) -> str:
    """An access token of `user` whose `exp` is `exp` (a Unix time), signed with the project's secret."""
    return encode({"sub": user.id, "role": "authenticated", "exp": exp}, secret)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error envelope's `error`, after checking the envelope's shape."""
    body = response.json()
    assert body["success"] is False
    assert body["request_id"] == response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


async def client_for(stack: LocalStack, user: ApiUser) -> AsyncClient:
    """supabase-py signed in as `user`, as a third-party SPA would talk to REST."""
    client = await acreate_client(stack.url, stack.anon_key)
    await client.auth.sign_in_with_password({"email": user.email, "password": user.password})
    return client


async def create_key(rest: AsyncClient, name: str = "ci", expires_at: str | None = None) -> dict[str, str]:
    made = await rest.rpc("create_api_key", {"key_name": name, "expires_at": expires_at}).execute()
    assert isinstance(made.data, dict)
    return made.data


@pytest.fixture
async def rest(stack: LocalStack, alice: ApiUser) -> AsyncClient:
    """alice's supabase-py client."""
    return await client_for(stack, alice)


@pytest.fixture
async def sdk(api: ApiProcess, rest: AsyncClient) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official `openai` SDK with a key of alice's ("ci"), no retries of its own."""
    key = await create_key(rest)
    client = openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key=key["key"], max_retries=0, timeout=60)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def longest_thought(pg: asyncpg.Connection, model: str, tokens: int) -> AsyncIterator[None]:
    """`model` thinking `tokens` at most inside, as an operator may set a model's longest thought;
    its own limit again after."""
    was = await pg.fetchval("select max_reasoning from models where id = $1", model)
    await pg.execute("update models set max_reasoning = $2 where id = $1", model, tokens)
    try:
        yield
    finally:
        await pg.execute("update models set max_reasoning = $2 where id = $1", model, was)


@pytest.fixture
async def short_thinker(pg: asyncpg.Connection) -> AsyncIterator[str]:
    """qwen-plus thinking 1,000 tokens at most."""
    async with longest_thought(pg, "qwen-plus", 1000):
        yield "qwen-plus"
