"""`python -m fakescope --host 127.0.0.1 --port 8089 [--ttft S] [--tokens-per-s N] ...`

Flags override the FAKESCOPE_* environment variables (core.settings.FakeScopeSettings). Runs on
uvloop when it is installed. The tokenizer is loaded before listening and everything alive then is
frozen out of the garbage collector: walking its vocabulary made a full collection a ~40 ms pause
that delayed every stream in flight (and showed up as the platform's latency in benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal

from core import collector
from core.logs import configure
from core.settings import FakeScopeSettings
from fakescope import tokens
from fakescope.server import FakeScope

log = logging.getLogger("fakescope")


def _parse(defaults: FakeScopeSettings) -> FakeScopeSettings:
    parser = argparse.ArgumentParser(prog="python -m fakescope", description="Fake DashScope HTTP server")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--ttft", type=float, default=defaults.ttft, help="seconds to the first token")
    parser.add_argument("--tokens-per-s", type=float, default=defaults.tokens_per_s, help="0 = unpaced")
    parser.add_argument("--tokens-per-event", type=int, default=defaults.tokens_per_event)
    parser.add_argument("--answer-tokens", type=int, default=defaults.answer_tokens)
    parser.add_argument("--jitter", type=float, default=defaults.jitter)
    parser.add_argument("--api-keys", default=",".join(defaults.api_keys), help="comma-separated; empty = any")
    args = parser.parse_args()
    keys = tuple(k.strip() for k in args.api_keys.split(",") if k.strip())
    return dataclasses.replace(
        defaults,
        host=args.host,
        port=args.port,
        ttft=args.ttft,
        tokens_per_s=args.tokens_per_s,
        tokens_per_event=args.tokens_per_event,
        answer_tokens=args.answer_tokens,
        jitter=args.jitter,
        api_keys=keys,
    )


async def _serve(settings: FakeScopeSettings) -> None:
    fake = FakeScope(settings)
    await asyncio.to_thread(tokens.tokenizer)
    collector.settle()
    url = await fake.start()
    log.info("fakescope listening", extra={"url": url, "native": fake.native_url, "compat": fake.compat_url})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main() -> None:
    configure("fakescope")
    settings = _parse(FakeScopeSettings())
    runner: contextlib.AbstractContextManager[asyncio.Runner]
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner as r:
        r.run(_serve(settings))


if __name__ == "__main__":
    main()
