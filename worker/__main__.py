"""`python -m worker`: answer chat messages until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import signal

from core import logs
from core.settings import get_settings
from worker.app import Worker


async def serve() -> None:
    settings = get_settings()
    worker = Worker(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await worker.start()
    await stopping.wait()
    await worker.stop()


def main() -> None:
    logs.configure("worker", get_settings().worker.log_level)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
