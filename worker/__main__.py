"""`python -m worker`: answer chat messages until SIGTERM or SIGINT, then shut down gracefully.

Runs on uvloop (a dependency through uvicorn[standard]): cheaper socket writes and wake-ups on the
per-chunk path. Once started, everything alive (modules, the tokenizer's vocabulary, clients:
~90k objects) is frozen out of the garbage collector and full collections are made rare
(core/collector.py): each was a 40-90 ms pause that stalled all the answers in flight.
"""

from __future__ import annotations

import asyncio
import signal

import uvloop

from core import collector, logs
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
    collector.settle(on_pause=lambda generation, seconds: worker.metrics.gc_pause.labels(generation).observe(seconds))
    await stopping.wait()
    await worker.stop()


def main() -> None:
    logs.configure("worker", get_settings().worker.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
