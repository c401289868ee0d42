"""The whole product for the browser: its own gateway on its own clone of the migrated database
(so no other suite's worker answers these questions), the fake DashScope paced so streaming is
visible, a `python -m worker`, the SPA built from web/ and served by `python -m webserve`, and
Debian's Chromium. Every piece is a real process; nothing is mocked."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from localbase.postgres import Cluster
from tests.conftest import LocalStack, free_port, isolated_stack, wait_for_http
from tests.e2e.journeys import LAUNCHERS, SCREENSHOTS, Crowd, Journey, prepare_journey

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = WEB / "dist"
CHROMIUM = "/usr/bin/chromium"
# Sources whose change makes web/dist stale.
BUILD_INPUTS = (
    "src",
    "public",
    "index.html",
    "vite.config.ts",
    "tailwind.config.js",
    "postcss.config.js",
    "tsconfig.json",
    "package-lock.json",
)


@dataclass
class Child:
    """A server subprocess with its log file; stopped with SIGTERM, then SIGKILL."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(name: str, args: list[str], env: dict[str, str], log: Path) -> Child:
    process = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
    )
    return Child(name, process, log)


def wait_for_log(child: Child, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.tail()}")
        if child.log.exists() and text in child.log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{child.name} did not log {text!r} within {timeout}s:\n{child.tail()}")


def _newest_input() -> float:
    newest = 0.0
    for name in BUILD_INPUTS:
        path = WEB / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(p.stat().st_mtime for p in files)])
    return newest


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: the SPA cannot be built (install Node.js 20 with npm)")
    subprocess.run([npm, *args], cwd=WEB, check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """web/dist, built now if missing or older than its sources (`make web-build` does the same)."""
    if not (WEB / "node_modules" / ".package-lock.json").exists():
        _npm("ci", "--no-audit", "--no-fund")
    index = DIST / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_input():
        _npm("run", "build")
    return DIST


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium. Missing is a failure, not a skip: `make chromium` installs it (as root)."""
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed: run `make chromium` (apt-get install chromium) as root")
    return found


@pytest.fixture(scope="session")
def web_stack(pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A gateway of its own on a fresh clone of the migrated template."""
    with isolated_stack(pg_cluster, "cg_web_e2e", tmp_path_factory) as local:
        yield local


@dataclass
class Product:
    stack: LocalStack
    web_url: str
    children: list[Child]
    fake_url: str | None = None  # the fake DashScope the worker calls, where it has one

    def logs(self) -> str:
        return "\n".join(f"--- {c.name} ---\n{c.tail()}" for c in self.children)


@pytest.fixture(scope="session")
def product(web_stack: LocalStack, web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    logs = tmp_path_factory.mktemp("web-e2e")
    base = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    children: list[Child] = []
    try:
        # Paced like a real model (first token after 0.2 s, then ~40 tokens/s, ~4 s an answer) so answers
        # visibly stream and a stop lands while one is still in flight.
        fake_port = free_port()
        fake = spawn(
            "fakescope",
            [
                "-m",
                "fakescope",
                "--port",
                str(fake_port),
                "--ttft",
                "0.2",
                "--tokens-per-s",
                "40",
                "--tokens-per-event",
                "2",
                "--answer-tokens",
                "160",
            ],
            base,
            logs / "fakescope.log",
        )
        children.append(fake)
        wait_for_http(f"http://127.0.0.1:{fake_port}/_fake/stats", fake.process)

        worker = spawn(
            "worker",
            ["-m", "worker"],
            {
                **base,
                "SUPABASE_URL": web_stack.url,
                "SUPABASE_JWT_SECRET": web_stack.jwt_secret,
                "DATABASE_URL": web_stack.dsn,
                "DASHSCOPE_API_KEY": "sk-e2e",
                "DASHSCOPE_HTTP_BASE_URL": f"http://127.0.0.1:{fake_port}/api/v1",
                "WORKER_SWEEP_INTERVAL": "1",
                "WORKER_FLUSH_INTERVAL": "0.1",
            },
            logs / "worker.log",
        )
        children.append(worker)
        wait_for_log(worker, "listening for new questions")

        web_port = free_port()
        web = spawn(
            "webserve",
            ["-m", "webserve", "--port", str(web_port), "--dist", str(web_dist)],
            {**base, "SUPABASE_URL": web_stack.url, "SUPABASE_JWT_SECRET": web_stack.jwt_secret},
            logs / "webserve.log",
        )
        children.append(web)
        wait_for_http(f"http://127.0.0.1:{web_port}/config.js", web.process)
        yield Product(web_stack, f"http://127.0.0.1:{web_port}", children, f"http://127.0.0.1:{fake_port}")
    finally:
        for child in reversed(children):
            child.stop()


# The order journeys start in, longest first (the session takes about as long as the last to
# finish); one not named here starts after these. Seconds each took among five at once on the
# loaded machine (12-05): trees 149, phone 124, run 124, service 103, qwen 82, signup_email 68,
# role_names 44, storage 42, role_lifecycle 35, auth 34, long_history 31, api_docs 27. "run" keeps
# its screenshots at the top of tests/e2e/screenshots/. Journeys that need nothing but the product
# are prepared here; the others by their modules' launchers (tests/e2e/journeys.py LAUNCHERS).
ORDER = (
    "trees",
    "phone",
    "run",
    "service",
    "qwen",
    "signup_email",
    "role_names",
    "storage",
    "role_lifecycle",
    "auth",
    "long_history",
    "api_docs",
)
PRODUCT_JOURNEYS = ("run", "auth", "qwen", "storage", "trees", "phone")
# Browsers at once: more only stretches every step on two cores (and a step has E2E_STEP_TIMEOUT_MS).
AT_ONCE = 5


@pytest.fixture(scope="session")
def journeys(request: pytest.FixtureRequest, product: Product, chromium_path: str) -> Iterator[dict[str, Journey]]:
    """Every journey of the session (PRODUCT_JOURNEYS and the LAUNCHERS of the collected modules),
    started by rank in ORDER, AT_ONCE at most; a test module's fixture takes `journeys[name].result()`.
    Those that need only the product start at once; a launcher's journey joins them as soon as its
    servers answer (they start while the first browsers run, instead of keeping every browser waiting)."""
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()

    def rank(name: str) -> int:
        return ORDER.index(name) if name in ORDER else len(ORDER)

    prepared: dict[str, Journey] = {}
    crowd = Crowd(AT_ONCE, rank)
    with ExitStack() as servers:
        try:
            for name in sorted(PRODUCT_JOURNEYS, key=rank):
                shots = SCREENSHOTS if name == "run" else None
                prepared[name] = prepare_journey(product, chromium_path, name, shots=shots)
                crowd.add(prepared[name])
            for name in sorted(LAUNCHERS, key=rank):
                prepared[name] = LAUNCHERS[name](request, servers)
                crowd.add(prepared[name])
            crowd.complete()
            yield prepared
        finally:
            crowd.close()


async def query(product: Product, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of `sql` on the product's database, as the superuser (what a journey left there)."""
    conn = await asyncpg.connect(product.stack.dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def query_now(product: Product, sql: str, *args: Any) -> list[asyncpg.Record]:
    """`query` from a synchronous test or fixture."""
    return asyncio.run(query(product, sql, *args))


def make_admin(stack: LocalStack, user_id: str) -> None:
    """Give a signed-up user the admin role (app_metadata, through Auth's admin API as the service role)."""
    httpx.put(
        f"{stack.url}/auth/v1/admin/users/{user_id}",
        headers={"apikey": stack.service_role_key, "Authorization": f"Bearer {stack.service_role_key}"},
        json={"app_metadata": {"role": "admin"}},
        timeout=10,
    ).raise_for_status()


def passed(journey: dict[str, Any], name: str) -> dict[str, Any]:
    """The journey's step called `name`, asserted to have passed (with the server logs if not)."""
    steps: list[dict[str, Any]] = journey["steps"]
    for step in steps:
        if step["name"] == name:
            assert step["ok"], f"{name}:\n{step.get('error')}\n\n{journey['server_logs']}"
            return step
    failed = [s for s in journey["steps"] if not s["ok"]]
    pytest.fail(f"step {name!r} was not reached; failed before it: {failed}")


def no_page_errors(journey: dict[str, Any]) -> None:
    """Assert the journey saw no uncaught page error or CSP violation and exited 0."""
    fatal = [p for p in journey["problems"] if p["kind"] == "pageerror" or "Content Security Policy" in p["text"]]
    assert fatal == []
    assert journey["exit_code"] == 0, [s for s in journey["steps"] if not s["ok"]]
