"""`python -m worker`: answer chat messages until SIGTERM or SIGINT, then shut down gracefully.

Runs on uvloop (a dependency through uvicorn[standard]): cheaper socket writes and wake-ups on the
per-chunk path. Once started, everything alive (modules, the tokenizer's vocabulary, clients:
~90k objects) is frozen out of the garbage collector: it never becomes garbage, and walking it
made every full collection a 40-60 ms pause that stalled all the answers in flight.
"""

from __future__ import annotations

import asyncio
import gc
import signal

import uvloop

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
    gc.freeze()
    await stopping.wait()
    await worker.stop()


def main() -> None:
    logs.configure("worker", get_settings().worker.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
