"""Start PostgreSQL, the local Supabase stack, the model (real DashScope or the offline fake), the
worker and the API; stop them all on Ctrl-C, or when any one of them dies.

Order matters and is waited on: Postgres (migrated) → gateway (auth/rest/realtime) → mailbox → fake model
(only without DASHSCOPE_API_KEY) → worker → API → web app (the built SPA). Each child inherits this environment, so the
same `.env` variables configure `make run` and the individual services.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from core.settings import LogSettings, Settings, get_settings
from devstack.banner import OFFLINE_KEY, banner
from devstack.doctor import ports
from localbase.migrate import migrate
from localbase.postgres import project_cluster


@dataclass
class Child:
    name: str
    args: list[str]
    ready_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, base_env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, *self.args], env={**base_env, **self.env})  # noqa: S603

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.ready_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with code {self.process.returncode} while starting")
            try:
                httpx.get(self.ready_url, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not answer {self.ready_url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _children() -> list[Child]:
    settings = get_settings()
    gateway = f"http://{settings.localbase.host}:{settings.localbase.port}"
    mailbox = f"http://{settings.localbase.mail_host}:{settings.localbase.mail_port}"
    children = [
        Child("localbase", ["-m", "localbase", "serve"], f"{gateway}/auth/v1/health"),
        Child("mailbox", ["-m", "localbase", "mail"], f"{mailbox}/livez"),
    ]
    if not settings.llm.api_key:
        fake = settings.fakescope
        fake_url = f"http://{fake.host}:{fake.port}"
        children.append(Child("fake model", ["-m", "fakescope"], f"{fake_url}/_fake/stats"))
        offline = {
            "DASHSCOPE_API_KEY": OFFLINE_KEY,
            "DASHSCOPE_HTTP_BASE_URL": f"{fake_url}/api/v1",
            "LLM_OPENAI_BASE_URL": f"{fake_url}/compatible-mode/v1",
        }
        os.environ.update(offline)
    children.append(Child("worker", ["-m", "worker"], None))
    children.append(Child("api", ["-m", "api"], f"http://{settings.api.host}:{settings.api.port}/health"))
    children.append(Child("web", ["-m", "webserve"], f"http://{settings.web.host}:{settings.web.port}/config.js"))
    return children


def _ports_free(settings: Settings) -> bool:
    """Every port `make run` binds is free; otherwise say which and why, before anything starts (a
    child that cannot bind dies at start, or another program answering its port passes for it)."""
    held = [finding for finding in ports(settings) if not finding.ok or finding.running]
    for finding in held:
        print(f"make run: {finding.what}" + (f"; {finding.fix}" if finding.fix else ""), file=sys.stderr)
    if any(finding.running for finding in held):
        print("make run: ChatGalaxy seems to be running already; stop it first (Ctrl-C there)", file=sys.stderr)
    return not held


def main() -> int:
    settings = get_settings()
    if not _ports_free(settings):
        return 1
    cluster = project_cluster(settings.database.url, settings.database.data_dir)
    cluster.start()
    applied = asyncio.run(migrate(settings.database.url))
    print(f"PostgreSQL on 127.0.0.1:{cluster.port} ({len(applied)} new migration(s))", flush=True)

    children = _children()
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    try:
        for child in children:
            child.start(dict(os.environ))
            child.wait_ready()
            print(f"started {child.name}", flush=True)
        print("\n" + banner(settings, colour=sys.stdout.isatty() and not LogSettings().no_color), flush=True)
        while not stopping:
            for child in children:
                if child.process is not None and child.process.poll() is not None:
                    print(f"{child.name} exited with code {child.process.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in reversed(children):
            child.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
