"""The local mailbox (`python -m localbase mail`) for tests: start it on a stack's mail folder and
read mails through its Mailpit-compatible API, the way a test against `supabase start` reads Mailpit.

    with Mailbox.start(stack, log_dir) as box:
        mail = box.wait_for(email, "Confirm Your Signup")
        link = box.link(mail)
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LocalStack, free_port, wait_for_http

_LINK = re.compile(r"https?://\S+/auth/v1/verify\?\S+")


@dataclass
class Mailbox:
    url: str
    process: subprocess.Popen[bytes]

    @classmethod
    @contextmanager
    def start(cls, stack: LocalStack, log_dir: Path) -> Iterator[Mailbox]:
        port = free_port()
        env = {**stack.env, "LOCALBASE_MAIL_PORT": str(port)}
        process = subprocess.Popen(
            [sys.executable, "-m", "localbase", "mail", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(log_dir / "mailbox.log", "ab"),  # noqa: SIM115 - the child owns it
        )
        box = cls(f"http://127.0.0.1:{port}", process)
        try:
            wait_for_http(f"{box.url}/livez", process)
            yield box
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", trust_env=False, timeout=10, **kwargs)

    def search(self, query: str) -> list[dict[str, Any]]:
        response = self.api("GET", "/search", params={"query": query})
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def wait_for(self, email: str, subject: str, count: int = 1) -> dict[str, Any]:
        """The newest message to `email` with `subject`, asserting at least `count` of them arrived.
        Auth writes a mail before it answers the request that sent it, so there is nothing to wait for."""
        found = [m for m in self.search(f"to:{email}") if m["Subject"] == subject]
        assert len(found) >= count, f"{len(found)} {subject!r} mail(s) to {email}, expected {count}"
        message = self.api("GET", f"/message/{found[0]['ID']}")
        message.raise_for_status()
        result: dict[str, Any] = message.json()
        return result

    @staticmethod
    def link(message: dict[str, Any]) -> str:
        """The action link in a message's text part."""
        found = _LINK.search(message["Text"])
        assert found, message["Text"]
        return found.group(0)

    @staticmethod
    def code(message: dict[str, Any]) -> str:
        found = re.search(r"enter the code: (\d{6})", message["Text"])
        assert found, message["Text"]
        return found.group(1)
