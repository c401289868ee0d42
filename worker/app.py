"""The worker process: wires the listener, sweep, dispatcher, turns, row writer and broadcaster
around one Supabase client (service_role) and one provider, and shuts them down in order.

Shutdown (SIGTERM): stop listening, sweeping and claiming; give turns in flight up to
WORKER_SHUTDOWN_GRACE seconds to finish; release the rest (lease cleared, so another worker
retakes them at once); flush the last row writes and broadcasts; close connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from typing import Any

from realtime import AsyncRealtimeClient

from core.settings import Settings
from worker.broadcast import Broadcaster
from worker.database import WorkerDatabase
from worker.dispatch import Dispatcher
from worker.early import EarlyCalls
from worker.histories import Histories
from worker.listener import Listener
from worker.llm import Provider, make_provider, tokens
from worker.metrics import Metrics
from worker.models import Catalog
from worker.realtime_parse import install as parse_realtime_by_event
from worker.reply import CANCELLED, SHUTDOWN
from worker.retry import Backoff
from worker.store import Store
from worker.supabase_http import SupabaseHttp
from worker.sweep import Sweeper
from worker.titles import Titler
from worker.turn import Turns
from worker.waits import cancel_and_wait
from worker.writer import RowWriter

log = logging.getLogger(__name__)

_RELEASE_DEADLINE = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, settings: Settings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.worker_id = settings.worker.worker_id or default_worker_id()
        self.metrics = Metrics()
        self.provider = provider or make_provider(settings.llm)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._http: SupabaseHttp | None = None
        self._db: WorkerDatabase | None = None
        self._listener: Listener | None = None
        self.turns: Turns | None = None
        self.dispatcher: Dispatcher | None = None
        self._titler: Titler | None = None
        self._early: EarlyCalls | None = None

    async def start(self) -> None:
        cfg, supa = self.settings.worker, self.settings.supabase
        # Every turn counts prompt tokens; load the vocabulary (~0.25 s) now, not in the first answer.
        await asyncio.to_thread(tokens.tokenizer)
        self._db = WorkerDatabase(cfg.database_url, cfg.database_pool)
        await self._db.start()
        self._http = SupabaseHttp(supa.url, supa.service_role_key, max_connections=64, timeout=10.0)
        histories = Histories(cfg.history_limit, cfg.history_kept_mb << 20, self.metrics.histories_resumed)
        store = Store(self._db, self.worker_id, cfg.lease_seconds, histories)
        writer = RowWriter(store, cfg.flush_interval)
        broadcaster = Broadcaster(self._http, self.metrics.broadcast_seconds)
        backoff = Backoff(cfg.retry_attempts, cfg.retry_base, cfg.retry_cap)
        catalog = Catalog(self._db)
        await catalog.load()
        self._titler = Titler(self.metrics.meter(self.provider), self._db, self.settings.llm) if cfg.titles else None
        self._early = EarlyCalls(
            self.metrics.meter(self.provider),
            histories,
            self.settings.llm,
            catalog,
            self.metrics.early_calls,
            limit=cfg.early_calls,
            max_bytes=cfg.history_kept_mb << 20,
            room=lambda: self.dispatcher is not None and self.dispatcher.has_room(),
        )
        self.turns = Turns(
            self.metrics.meter(self.provider),
            writer,
            broadcaster,
            backoff,
            self.metrics,
            llm=self.settings.llm,
            catalog=catalog,
            storage=self._http,
            turn_timeout=cfg.turn_timeout,
            titler=self._titler,
            early=self._early,
        )
        self.dispatcher = Dispatcher(
            store,
            self.turns.run,
            self.metrics,
            concurrency=cfg.concurrency,
            max_attempts=cfg.max_attempts,
            missed=self._early.drop,
            defer=cfg.claim_defer,
        )
        sweeper = Sweeper(
            store,
            self.dispatcher,
            interval=cfg.sweep_interval,
            lookback=cfg.sweep_lookback,
            startup_lookback=cfg.startup_lookback,
            metrics=self.metrics,
        )
        # realtime-py for the subscription (a new client per try, listener.py says why); broadcasts
        # and Storage go through self._http, the worker's SQL functions through self._db.
        realtime_url = f"{supa.url.rstrip('/')}/realtime/v1"
        parse_realtime_by_event()  # realtime-py's reader, ~12× cheaper per event (realtime_parse.py)
        self._listener = Listener(
            lambda: AsyncRealtimeClient(realtime_url, token=supa.service_role_key, auto_reconnect=False),
            self.dispatcher,
            sweeper,
            self._cancel,
            backoff=Backoff(0, cfg.realtime_retry_base, cfg.realtime_retry_cap),  # attempts unused: forever
            metrics=self.metrics,
            heard=self.turns.heard,
            worker_id=self.worker_id,
        )
        self._spawn("models", catalog.run())
        self._spawn("writer", writer.run())
        self._spawn("broadcaster", broadcaster.run())
        self._spawn("dispatcher", self.dispatcher.run())
        self._spawn("sweeper", sweeper.run())
        self._spawn("listener", self._listener.run())
        self._broadcaster = broadcaster
        self.metrics.serve(cfg.metrics_port)
        log.info(
            "worker started",
            extra={"worker_id": self.worker_id, "concurrency": cfg.concurrency, "provider": self.settings.llm.provider},
        )

    def _spawn(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        self._tasks[name] = asyncio.create_task(coroutine, name=f"worker-{name}")

    async def listening(self) -> None:
        """Until the realtime subscription hears changes: joined and "Subscribed to PostgreSQL" (tests
        and benchmarks wait for it)."""
        assert self._listener is not None
        await self._listener.subscribed.wait()

    def _cancel(self, message_id: str) -> None:
        reply = self.turns.active.get(message_id) if self.turns else None
        if reply is not None:
            reply.stop(CANCELLED)

    async def stop(self, grace: float | None = None) -> None:
        grace = self.settings.worker.shutdown_grace if grace is None else grace
        log.info("worker stopping", extra={"worker_id": self.worker_id, "grace": grace})
        for name in ("listener", "sweeper", "dispatcher"):
            await cancel_and_wait(self._tasks.pop(name, None))
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.stop()
        turns = set(self.dispatcher.tasks) if self.dispatcher else set()
        if turns:
            _, pending = await asyncio.wait(turns, timeout=grace)
            if pending and self.turns is not None:
                log.info("releasing unfinished answers", extra={"turns": len(pending)})
                for reply in list(self.turns.active.values()):
                    reply.stop(SHUTDOWN)
                await asyncio.wait(pending, timeout=_RELEASE_DEADLINE)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_RELEASE_DEADLINE):
                await self._broadcaster.drained()
        for name in ("broadcaster", "writer", "models"):
            await cancel_and_wait(self._tasks.pop(name, None))
        if self.turns is not None:
            self.turns.close()
        if self._titler is not None:
            await self._titler.stop()
        if self._early is not None:
            await self._early.aclose()
        await self.provider.aclose()
        if self._http is not None:
            await self._http.aclose()
        if self._db is not None:
            await self._db.close()
        log.info("worker stopped", extra={"worker_id": self.worker_id})
