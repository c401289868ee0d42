"""Realtime subscription: new requests for an answer are offered to the dispatcher the moment they
commit (their images read ahead, or their model called early, meanwhile: `heard`), and a cancel
request on an answer in flight stops it without waiting for the next row write.

A request is an inserted row with `attempts` 0: a user's question (it asks for answer 1) or an
answer row a user requested (regenerate, migrations/..._conversation_trees.sql). Rows the worker
inserts when it claims start at attempt 1 and are not heard. One filter per binding, as hosted
Realtime allows. Each binding asks only for the columns read here (`select`): the rest of a row
(its search vector, usage, timestamps...) would cost the reader task more to receive and parse
than anything else the worker does for a turn (realtime-py validates and formats every message
with pydantic: ~0.3 ms for a question's whole row), and it is on the first token's path.

Supervision: `run()` keeps the subscription joined until the worker stops. Each attempt is a new
socket (realtime-py's client) and a new channel with its two bindings, so a retry never doubles
them and nothing of a lost socket (buffered pushes, timers) reaches the next. The client is made
with `auto_reconnect=False`: realtime-py's own reconnect gives up after five tries (~15 s)
inside its reader task and tells nobody, and its rejoin timer runs only while the socket lives.
Without it, every loss reaches the subscribe callback: a socket closed either way (the gateway
went away or restarted, keepalive pings unanswered) errors the channel, the server closing the
channel (token expired) or erroring it (its change stream lost) is reported as such, an
unanswered join as TIMED_OUT. Any state but SUBSCRIBED ends the attempt: warned of once, the
socket closed, a new attempt after a bounded exponential backoff
(WORKER_REALTIME_RETRY_BASE doubling to WORKER_REALTIME_RETRY_CAP, reset by a join), forever.

Joined means heard: Realtime answers a join before it stores the join's postgres_changes bindings
(after their checks), then says so in a `system` message ("Subscribed to PostgreSQL", extension
postgres_changes) or sends a `system` error, which realtime-py reports as CHANNEL_ERROR (a failed
join, as above). A change written in between reaches no one, so the attempt counts as joined (the
`worker_listening` gauge 1, a join counted, its presence tracked, a sweep kicked) only once both
the reply and that message came. Realtime stores the bindings again, silently, after its change
stream for the project went down, and says "Subscribed to PostgreSQL" again: what was written in
between reached no one, so that message kicks a sweep too.

The channel is private: Realtime authorizes its join by RLS on `realtime.messages`, which the
worker's service_role bypasses and no policy grants anyone else. Its presence is how workers count
each other (`peers`, which defers claims: worker/early.py), so on a public channel anyone with the
anon key could join it and track fake peers, delaying every worker's early calls.

Realtime delivers at most once; the sweep (sweep.py) is what guarantees every question is seen.
Each join kicks a sweep for whatever was inserted while the channel was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from realtime import RealtimePostgresChangesListenEvent as Change
from realtime.message import SuccessSystemPayload
from realtime.types import RealtimeChannelConfig, RealtimeChannelOptions, RealtimeChannelPresenceConfig

from worker.dispatch import Dispatcher
from worker.early import may_be_called_early
from worker.metrics import Metrics
from worker.retry import Backoff
from worker.sweep import Sweeper

log = logging.getLogger(__name__)

CHANNEL = "worker:chat_messages"
# The columns each binding receives: what _inserted and _updated read.
INSERT_COLUMNS = (
    "id",
    "session_id",
    "attachments",
    "created_at",
    # what an early call's prompt is told from (worker/early.py)
    "message_type",
    "parent_id",
    "content",
    "web_search",
)
UPDATE_COLUMNS = ("id", "cancel_requested")


class Listener:
    def __init__(
        self,
        connect: Callable[[], AsyncRealtimeClient],
        dispatcher: Dispatcher,
        sweeper: Sweeper,
        on_cancel: Callable[[str], None],
        *,
        backoff: Backoff,
        metrics: Metrics | None = None,
        heard: Callable[[Any], bool] | None = None,
        worker_id: str = "",
    ) -> None:
        """`heard` gets each new request's record (INSERT_COLUMNS) as it is heard, before any claim,
        and says whether it called the model early for it (worker/early.py). `worker_id` is this
        worker's presence key on the channel, where each worker counts the others (`peers`)."""
        self._connect = connect  # a new, unconnected client (auto_reconnect off) per attempt
        self._heard = heard
        self._metrics = metrics
        self._dispatcher = dispatcher
        self._sweeper = sweeper
        self._on_cancel = on_cancel
        self._backoff = backoff
        self._client: AsyncRealtimeClient | None = None
        self._stopping = False
        self._worker_id = worker_id
        self._tracking: asyncio.Task[None] | None = None
        self.peers = 0  # other workers on the channel (its presence) at the last sync
        self.subscribed = asyncio.Event()  # set while the channel is joined

    async def run(self) -> None:
        """Join, and join again whenever the subscription is lost, until cancelled."""
        failures = 0  # attempts in a row that never joined
        while True:
            attempt = _Attempt()
            client = self._client = self._connect()
            try:
                await self._subscribe(client, attempt)
                await attempt.over.wait()
            except Exception as exc:  # the socket did not open (gateway down, refused handshake)
                log.warning("realtime subscribe failed", extra={"error": repr(exc), "failures": failures + 1})
            attempt.over.set()  # what its client reports from now on (a leave's late CLOSED) is ignored
            failures = 0 if attempt.joined else failures + 1
            self._joined(False)
            await _close(client)
            await asyncio.sleep(self._backoff.delay(failures + 1))

    async def _subscribe(self, client: AsyncRealtimeClient, attempt: _Attempt) -> None:
        def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
            if self._stopping or attempt.over.is_set():  # a stop's leave, or an attempt given up
                return
            if state == RealtimeSubscribeStates.SUBSCRIBED:
                attempt.replied = True
                listening()
                return
            log.warning("realtime subscription %s", state.value, extra={"error": repr(error) if error else None})
            self._joined(False)
            attempt.over.set()

        def on_system(payload: SuccessSystemPayload) -> None:
            # realtime-py hands over only `ok` system messages here (an error is CHANNEL_ERROR);
            # Realtime also sends ok ones of its own ("system": a requested disconnect).
            if payload.extension != "postgres_changes" or self._stopping or attempt.over.is_set():
                return
            if attempt.joined:  # stored again after Realtime's change stream was down: a gap
                log.info("realtime subscribed again; sweeping for what it missed")
                self._sweeper.kick()
                return
            attempt.stored = True
            listening()

        def listening() -> None:
            """Once the join was answered and its bindings stored, the first time in the attempt."""
            if attempt.joined or not (attempt.replied and attempt.stored):
                return
            log.info("listening for new questions")
            attempt.joined = True
            self._joined(True)
            self._tracking = asyncio.ensure_future(channel.track({"worker": self._worker_id}))
            self._tracking.add_done_callback(_tracked)
            self._sweeper.kick()

        presence = RealtimeChannelPresenceConfig(key=self._worker_id, enabled=True)
        config = RealtimeChannelConfig(broadcast={"ack": False, "self": False}, presence=presence, private=True)
        channel = client.channel(CHANNEL, RealtimeChannelOptions(config=config))
        channel.on_presence_sync(lambda: self._count_peers(channel.presence_state()))
        channel.on_system(on_system)
        channel.on_postgres_changes(
            Change.Insert,
            self._inserted,
            table="chat_messages",
            schema="public",
            filter="attempts=eq.0",
            select=list(INSERT_COLUMNS),
        )
        channel.on_postgres_changes(
            Change.Update,
            self._updated,
            table="chat_messages",
            schema="public",
            filter="cancel_requested=eq.true",
            select=list(UPDATE_COLUMNS),
        )
        await channel.subscribe(on_state)

    def _count_peers(self, state: Mapping[str, Any]) -> None:
        self.peers = sum(1 for key in state if key != self._worker_id)
        if self._metrics is not None:
            self._metrics.peers.set(self.peers)

    def _joined(self, joined: bool) -> None:
        if joined:
            self.subscribed.set()
        else:
            self.subscribed.clear()
        if self._metrics is not None:
            self._metrics.listening.set(1 if joined else 0)
            if joined:
                self._metrics.joins.inc()

    async def stop(self) -> None:
        """Leave the channel and close the socket (call once `run` was cancelled). What the client
        reports from now on (the leave's CLOSED, even seconds later when the leave goes
        unanswered) is this stop, not a lost subscription: it is not warned of."""
        self._stopping = True
        self._joined(False)
        if self._client is not None:
            await _close(self._client)
            self._client = None

    def _inserted(self, payload: Any) -> None:
        # Called in realtime-py's reader task: an exception here would end that task, and with it
        # the socket's reading, silently. Nothing escapes.
        try:
            record = payload["data"].get("record") or {}
            if record.get("id"):
                called = self._heard is not None and self._heard(record)  # images read, a model called, meanwhile
                defer = self.peers > 0 and not called and may_be_called_early(record)
                self._dispatcher.offer([record["id"]], "realtime", record.get("session_id"), defer=defer)
                if self._metrics is not None:
                    self._observe_delay(record.get("created_at"))
        except Exception:
            log.exception("a realtime insert event could not be offered; the sweep will find it")

    def _observe_delay(self, created_at: Any) -> None:
        try:
            inserted = datetime.fromisoformat(str(created_at)).timestamp()
        except ValueError:
            return
        assert self._metrics is not None
        self._metrics.notify_delay.observe(max(0.0, time.time() - inserted))

    def _updated(self, payload: Any) -> None:
        try:  # in the reader task too: see _inserted
            record = payload["data"].get("record") or {}
            if record.get("id") and record.get("cancel_requested"):
                self._on_cancel(record["id"])
        except Exception:
            log.exception("a realtime cancel request could not be applied; the row writer will see it")


def _tracked(task: asyncio.Task[None]) -> None:
    """A failed presence track is the attempt's socket going away: the next attempt tracks again."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.debug("presence track failed", extra={"error": repr(error)})


@dataclass
class _Attempt:
    """One socket's try at the subscription: whether its join was answered (`replied`), its
    bindings stored ("Subscribed to PostgreSQL": `stored`), both (`joined`), and whether it is over
    (lost, failed or abandoned: its client's reports are no longer about the subscription)."""

    replied: bool = False
    stored: bool = False
    joined: bool = False
    over: asyncio.Event = field(default_factory=asyncio.Event)


async def _close(client: AsyncRealtimeClient) -> None:
    """Leave the client's channel and close its socket; a socket already gone is no error."""
    with contextlib.suppress(Exception):
        await client.remove_all_channels()
