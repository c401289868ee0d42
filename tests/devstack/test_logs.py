"""`make run` at a terminal prints readable lines, and JSON otherwise: the real API process, its
stderr a pseudo-terminal or a pipe, with LOG_FORMAT unset or set. And the banner lists what
`supabase status` lists plus the web app, the API docs and the model."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from core.settings import Settings
from devstack.banner import banner
from tests.conftest import LocalStack, free_port, wait_for_http

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def api_process(
    dsn: str, env: dict[str, str], terminal: bool
) -> Iterator[tuple[str, subprocess.Popen[bytes], int | None]]:
    """`python -m api` whose Auth is not there (so a login is a logged 503), stderr a pty or a pipe."""
    port = free_port()
    master, slave = pty.openpty() if terminal else (None, None)
    child_env = {
        **os.environ,
        "SUPABASE_URL": f"http://127.0.0.1:{free_port()}",
        "DATABASE_URL": dsn,
        "NO_PROXY": "127.0.0.1,localhost",
        "API_RATE_LIMIT_ENABLED": "false",
        **env,
    }
    if "NO_COLOR" not in env:
        child_env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port)],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=slave if terminal else subprocess.PIPE,
    )
    if slave is not None:
        os.close(slave)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/schema/openapi.json", process)  # /health is 503: no upstream
        yield f"http://127.0.0.1:{port}", process, master
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if master is not None:
            os.close(master)


def _exercise(url: str) -> None:
    with httpx.Client(base_url=url, trust_env=False, timeout=20) as http:
        http.get("/api/nope")
        http.post("/api/auth/login", json={"email": "a@example.com", "password": "password123"})


def _read_pty(master: int, until: str, timeout: float = 20.0) -> str:
    """What the process wrote to its terminal, read until `until` shows up (or the deadline)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in ANSI.sub("", seen.decode(errors="replace")) and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen.decode(errors="replace")


def test_a_terminal_gets_one_readable_coloured_line_per_event(stack: LocalStack) -> None:
    with api_process(stack.dsn, {}, terminal=True) as (url, _process, master):
        assert master is not None
        _exercise(url)
        raw = _read_pty(master, "UpstreamUnavailable")
    assert "\x1b[" in raw  # coloured
    lines = [ANSI.sub("", line) for line in raw.splitlines() if line.strip()]
    assert not any(line.lstrip().startswith("{") for line in lines), lines
    access = [line for line in lines if "GET unmatched → 404" in line or "GET /api/nope → 404" in line]
    assert access, lines
    assert access[0].startswith("chatgalaxy-api │ ")
    assert re.search(r"│ \d\d:\d\d:\d\d  GET ", access[0])
    warning = [line for line in lines if "WARN" in line and "UpstreamUnavailable" in line]
    assert warning, lines
    assert "request_id=" in warning[0]


def test_json_when_asked_even_at_a_terminal(stack: LocalStack) -> None:
    with api_process(stack.dsn, {"LOG_FORMAT": "json"}, terminal=True) as (url, _process, master):
        assert master is not None
        _exercise(url)
        raw = _read_pty(master, "UpstreamUnavailable")
    entries = [json.loads(line) for line in raw.splitlines() if line.strip().startswith("{")]
    assert any(e.get("status") == 404 and e["service"] == "chatgalaxy-api" for e in entries)
    assert any(e["level"] == "WARNING" and e.get("code") == "UpstreamUnavailable" for e in entries)
    assert "\x1b[" not in raw


def test_json_when_not_a_terminal(stack: LocalStack) -> None:
    with api_process(stack.dsn, {}, terminal=False) as (url, process, _master):
        _exercise(url)
    assert process.stderr is not None
    lines = [line for line in process.stderr.read().decode().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    assert {"timestamp", "level", "service", "module", "message"} <= set(entries[0])
    assert any(e.get("status") == 404 for e in entries)


@pytest.mark.parametrize("colour", [False, True])
def test_banner_lists_what_supabase_status_lists(colour: bool) -> None:
    settings = Settings()
    text = ANSI.sub("", banner(settings, colour=colour))
    for label in ("API URL", "DB URL", "Mailbox URL", "JWT secret", "anon key", "service_role key"):
        assert re.search(rf"^\s+{label}: \S", text, re.M), label
    for value in (settings.supabase.anon_key, settings.supabase.service_role_key, settings.supabase.jwt_secret):
        assert value in text
    assert f":{settings.localbase.mail_port}" in text
    assert "/schema/swagger" in text
    assert re.search(r"^\s+Web app: http://", text, re.M)
    assert re.search(r"^\s+Model: .*qwen", text, re.M)
