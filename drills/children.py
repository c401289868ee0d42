"""Child processes of a drill: started with their own log file, stopped or killed on purpose.

A drill's components run as real processes (`python -m localbase|worker|api|fakescope`) so a
SIGKILL or a restart is exactly what production would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    """One `python -m <module> ...` with a fixed environment; it can be started again after it ends."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None = None
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The root URL of a served child (its ready URL's scheme, host and port)."""
        scheme, _, rest = str(self.ready_url).partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    async def start(self, within: float = 60.0) -> None:
        """Spawn it and, when it has a `ready_url`, wait until that answers at all."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *self.args, env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log
            )
        if self.ready_url:
            await wait_http(self.ready_url, self, within)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, leases and sockets are simply abandoned."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
        if process.returncode is None:
            await self.kill()


async def wait_http(url: str, child: Child | None = None, within: float = 60.0) -> None:
    """Poll `url` until it answers with any status; fail fast if `child` died meanwhile."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
        while True:
            if child is not None and child.process is not None and child.process.returncode is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}; see {child.log}")
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not answer within {within}s") from None
                await asyncio.sleep(0.05)
