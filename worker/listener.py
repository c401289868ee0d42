"""Realtime subscription: new requests for an answer are offered to the dispatcher the moment they
commit, and a cancel request on an answer in flight stops it without waiting for the next row write.

A request is an inserted row with `attempts` 0: a user's question (it asks for answer 1) or an
answer row a user requested (regenerate, migrations/..._conversation_trees.sql). Rows the worker
inserts when it claims start at attempt 1 and are not heard. One filter per binding, as hosted
Realtime allows.

Realtime delivers at most once; the sweep (sweep.py) is what guarantees every question is seen.
Each (re)subscription kicks a sweep for whatever was inserted while the channel was down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from realtime import AsyncRealtimeChannel, RealtimeSubscribeStates
from realtime import RealtimePostgresChangesListenEvent as Change
from supabase import AsyncClient

from worker.dispatch import Dispatcher
from worker.metrics import Metrics
from worker.sweep import Sweeper

log = logging.getLogger(__name__)

CHANNEL = "worker:chat_messages"


class Listener:
    def __init__(
        self,
        client: AsyncClient,
        dispatcher: Dispatcher,
        sweeper: Sweeper,
        on_cancel: Callable[[str], None],
        metrics: Metrics | None = None,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._dispatcher = dispatcher
        self._sweeper = sweeper
        self._on_cancel = on_cancel
        self._channel: AsyncRealtimeChannel | None = None
        self._stopping = False
        self.subscribed = asyncio.Event()  # set while the channel is joined

    async def start(self) -> None:
        channel = self._client.channel(CHANNEL)
        channel.on_postgres_changes(
            Change.Insert,
            self._inserted,
            table="chat_messages",
            schema="public",
            filter="attempts=eq.0",
        )
        channel.on_postgres_changes(
            Change.Update,
            self._updated,
            table="chat_messages",
            schema="public",
            filter="cancel_requested=eq.true",
        )
        self._channel = channel
        await channel.subscribe(self._state)

    async def stop(self) -> None:
        """Leave the channel and close the socket. What the client reports from now on (the
        leave's CLOSED, even seconds later when the leave goes unanswered) is this stop, not a
        lost subscription: it is not warned of."""
        self._stopping = True
        self.subscribed.clear()
        if self._metrics is not None:
            self._metrics.listening.set(0)
        if self._channel is not None:
            await self._client.remove_channel(self._channel)
            self._channel = None
        await self._client.realtime.close()

    def _state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        if self._stopping:
            return
        if state == RealtimeSubscribeStates.SUBSCRIBED:
            log.info("listening for new questions")
            self.subscribed.set()
            self._sweeper.kick()
        else:
            self.subscribed.clear()
            log.warning("realtime subscription %s", state.value, extra={"error": repr(error) if error else None})
        if self._metrics is not None:
            self._metrics.listening.set(1 if self.subscribed.is_set() else 0)

    def _inserted(self, payload: Any) -> None:
        record = payload["data"].get("record") or {}
        if record.get("id"):
            self._dispatcher.offer([record["id"]], "realtime")
            if self._metrics is not None:
                self._observe_delay(record.get("created_at"))

    def _observe_delay(self, created_at: Any) -> None:
        try:
            inserted = datetime.fromisoformat(str(created_at)).timestamp()
        except ValueError:
            return
        assert self._metrics is not None
        self._metrics.notify_delay.observe(max(0.0, time.time() - inserted))

    def _updated(self, payload: Any) -> None:
        record = payload["data"].get("record") or {}
        if record.get("id") and record.get("cancel_requested"):
            self._on_cancel(record["id"])
