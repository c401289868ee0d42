"""The Realtime service at /realtime/v1: Phoenix websocket channels and the broadcast REST API.

One sweeper task (1 s cadence) closes channels whose token expired and, every 15 s, drops sockets
silent for longer than the heartbeat timeout. The change listener is the only other task.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time

from localbase.gateway import PUBLISHABLE_KEY, SECRET_KEY, Context
from localbase.http import BodyTooLarge, HttpError, Receive, Request, Scope, Send, respond, respond_json
from localbase.realtime import channel as channels
from localbase.realtime import socket
from localbase.realtime.authz import Authorizer
from localbase.realtime.broadcast import Broadcast
from localbase.realtime.capture import ChangeListener
from localbase.realtime.catalog import Catalog
from localbase.realtime.changes import ChangeFanout
from localbase.realtime.connection import Channel, Connection
from localbase.realtime.hub import Hub
from localbase.realtime.presence import Presence

_SWEEP_SECONDS = 1.0
_STALE_SCAN_EVERY = 15


class RealtimeService:
    def __init__(self, context: Context) -> None:
        settings = context.settings
        self.context = context
        self.keys = settings.supabase.keys
        self.opaque_keys = {SECRET_KEY: settings.supabase.service_role_key, PUBLISHABLE_KEY: settings.supabase.anon_key}
        self.heartbeat_timeout = settings.localbase.realtime_heartbeat_timeout
        self.max_channels_per_client = settings.localbase.realtime_max_channels_per_client
        self.hub = Hub()
        self.connections: set[Connection] = set()
        self._expiries: list[tuple[float, int, Channel]] = []
        self._sequence = itertools.count()
        self._sweeper: asyncio.Task[None] | None = None
        self._listener: ChangeListener | None = None
        self._authz_ttl = settings.localbase.realtime_authz_ttl

    async def startup(self) -> None:
        pool = self.context.db.admin_pool
        self.catalog = Catalog(pool)
        self.authz = Authorizer(pool, self._authz_ttl)
        self.presence = Presence(self.hub, self.authz)
        self.broadcast = Broadcast(self.hub, self.authz, self.keys)
        self.fanout = ChangeFanout(self.hub, self.catalog, pool, self.broadcast)
        await pool.execute("select realtime.localbase_sync_capture()")
        await self.catalog.refresh()
        self._listener = ChangeListener(self.context.notifications, pool, self.fanout.handle, self._change_gap)
        await self._listener.start()
        self._sweeper = asyncio.create_task(self._sweep())

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._listener is not None:
            await self._listener.stop()
        for conn in list(self.connections):
            await conn.close(1001)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await socket.serve(self, scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if request.method != "POST" or not request.path.startswith("/api/broadcast"):
                raise HttpError(404, {"message": "Not found"})
            await self.broadcast.http(request)
        except HttpError as exc:
            await respond_json(send, exc.status, exc.body)
            return
        except BodyTooLarge:
            await respond_json(send, 413, {"message": "Payload too large"})
            return
        await respond(send, 202)

    def watch_expiry(self, channel: Channel) -> None:
        heapq.heappush(self._expiries, (float(channel.claims["exp"]), next(self._sequence), channel))

    async def _change_gap(self) -> None:
        """The change stream was interrupted: tell subscribers rather than lose changes silently."""
        message = "Change stream interrupted; changes may have been missed. Rejoin to resubscribe"
        for channel in list(self.hub.watching_changes):
            await channel.connection.deliver(channel.system("error", message, "postgres_changes"))

    async def _sweep(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            ticks += 1
            now = time.time()
            while self._expiries and self._expiries[0][0] <= now:
                exp, _, channel = heapq.heappop(self._expiries)
                joined = channel.connection.channels.get(channel.topic) is channel
                if joined and float(channel.claims["exp"]) == exp:
                    await channels.expire(self, channel)
            if ticks % _STALE_SCAN_EVERY == 0:
                silent_since = time.monotonic() - self.heartbeat_timeout
                for conn in [c for c in self.connections if c.last_seen < silent_since]:
                    await conn.close(1000)
