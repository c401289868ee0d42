"""Browser journeys as child processes: `node web/e2e/<name>.mjs` against a running product, its
JSON result read back, and a crowd of them run together with a bounded number at once.

A journey mostly waits on answers paced like a real model's, so the session runs them side by side
(tests/e2e/conftest.py `journeys`); each signs up users of its own, so none sees another's data.
At most `Crowd.limit` run at a time: every browser beyond that only stretches the others' steps on
a 2-core machine. Nothing here sleeps: a journey starts when another's process has exited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


class Target(Protocol):
    """What a journey runs against: the SPA's address, and the servers' logs for a failure's message."""

    web_url: str

    def logs(self) -> str: ...


@dataclass
class Journey:
    """`node web/e2e/<name>.mjs` made by `prepare_journey`; `start()` runs it, `result()` waits for it."""

    name: str
    product: Target
    command: list[str]
    env: dict[str, str]
    shots: Path
    timeout: float
    extras: dict[str, Any] = field(default_factory=dict)  # what its launcher made for the checks
    process: subprocess.Popen[bytes] | None = None
    output: Path | None = None
    deadline: float = 0.0
    _started: threading.Event = field(default_factory=threading.Event)
    _refused: str | None = None
    _result: dict[str, Any] | None = None

    def start(self) -> None:
        """Run it now; its `timeout` counts from here. Output goes to files, not pipes: nobody reads a
        pipe while the journey runs, and a file takes the result whole before the journey exits."""
        self.output = Path(tempfile.mkdtemp(prefix=f"journey-{self.name}-"))
        with open(self.output / "stdout", "wb") as stdout, open(self.output / "stderr", "wb") as stderr:
            self.process = subprocess.Popen(self.command, cwd=WEB, env=self.env, stdout=stdout, stderr=stderr)
        self.deadline = time.monotonic() + self.timeout
        self._started.set()

    def refuse(self, why: str) -> None:
        """It will never start (the session is ending, or starting it failed); `result()` says why."""
        self._refused = why
        self._started.set()

    def result(self) -> dict[str, Any]:
        """The journey's JSON result (its last line of stdout, also written to result.json beside its
        screenshots), with `exit_code` and `server_logs` added; a journey that printed none fails the test."""
        if self._result is not None:
            return self._result
        self._started.wait()
        if self._refused is not None or self.process is None or self.output is None:
            pytest.fail(f"{self.name}.mjs did not start: {self._refused}")
        try:
            self.process.wait(timeout=max(self.deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        stdout = (self.output / "stdout").read_text(errors="replace")
        stderr = (self.output / "stderr").read_text(errors="replace")
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if not lines:
            pytest.fail(f"{self.name}.mjs printed no result (exit {self.process.returncode}):\n{stdout}\n{stderr}")
        shutil.rmtree(self.output, ignore_errors=True)
        result: dict[str, Any] = json.loads(lines[-1])
        (self.shots / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
        result["exit_code"] = self.process.returncode
        result["server_logs"] = self.product.logs()
        self._result = result
        return result

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def prepare_journey(
    product: Target,
    chromium_path: str,
    name: str,
    *,
    shots: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 360,
) -> Journey:
    """The browser journey web/e2e/<name>.mjs against `product`, with users of its own (a fresh
    E2E_TAG), not started yet. Screenshots go to `shots` (default tests/e2e/screenshots/<name>/,
    emptied now) next to a result.json."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the browser tests need Node.js 20")
    shots = shots if shots is not None else SCREENSHOTS / name
    if shots != SCREENSHOTS:
        shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True, exist_ok=True)
    child_env = {
        **os.environ,
        "WEB_URL": product.web_url,
        "CHROMIUM_PATH": chromium_path,
        "SCREENSHOT_DIR": str(shots),
        "E2E_TAG": uuid.uuid4().hex[:8],
        "NO_PROXY": "127.0.0.1,localhost",
        **(env or {}),
    }
    return Journey(name, product, [node, f"e2e/{name}.mjs"], child_env, shots, timeout)


# A journey that needs more than the product (users made an admin, its own API or mailbox): its
# test module registers how to prepare it with `@launcher(name)`, and the session's `journeys`
# fixture runs it with the others. A launcher gets that fixture's request (for session fixtures
# such as `product`, `web_dist` or `pg_cluster`) and an ExitStack that stops the servers it
# starts when the session ends.
Launcher = Callable[[pytest.FixtureRequest, ExitStack], Journey]
LAUNCHERS: dict[str, Launcher] = {}


def launcher(name: str) -> Callable[[Launcher], Launcher]:
    """Register the function that prepares journey `name` (see LAUNCHERS)."""

    def register(launch: Launcher) -> Launcher:
        LAUNCHERS[name] = launch
        return launch

    return register


class Crowd:
    """Journeys started as places free up, at most `limit` running at once: each time a running one's
    process exits (a thread waits on each), the first by `rank` of those added and not yet started
    starts. Journeys may be added while others run (`add`), until `complete()`; `close()` starts no
    more, refuses those still waiting and kills those still running."""

    def __init__(self, limit: int, rank: Callable[[str], int]) -> None:
        self.limit = limit
        self.rank = rank
        self.journeys: list[Journey] = []
        self._waiting: list[Journey] = []
        self._running = 0
        self._complete = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="journeys", daemon=True)
        self._thread.start()

    def add(self, journey: Journey) -> None:
        """Start `journey` when a place is free and none added before it ranks first."""
        with self._changed:
            self.journeys.append(journey)
            if self._closed:
                journey.refuse("the session ended first")
                return
            self._waiting.append(journey)
            self._changed.notify_all()

    def complete(self) -> None:
        """No more journeys will be added: the starter ends once it has started the last."""
        with self._changed:
            self._complete = True
            self._changed.notify_all()

    def _next(self) -> Journey | None:
        """The next journey to start once a place is free, or None when there will be none."""
        with self._changed:
            while not self._closed and (self._running >= self.limit or not self._waiting):
                if self._complete and not self._waiting:
                    return None
                self._changed.wait()
            if self._closed:
                return None
            journey = min(self._waiting, key=lambda j: self.rank(j.name))
            self._waiting.remove(journey)
            try:
                journey.start()
            except Exception as exc:  # reported by the journey's result()
                journey.refuse(repr(exc))
                return journey
            self._running += 1
        threading.Thread(target=self._watch, args=(journey,), daemon=True).start()
        return journey

    def _run(self) -> None:
        while self._next() is not None:
            pass

    def _watch(self, journey: Journey) -> None:
        assert journey.process is not None
        journey.process.wait()
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            for journey in self._waiting:
                journey.refuse("the session ended first")
            self._waiting.clear()
            for journey in self.journeys:
                journey.stop()
            self._changed.notify_all()
        self._thread.join(timeout=10)
