"""One Realtime socket per API process, multiplexing the answer streams its requests listen to.

A `ReplyHub` keeps a single Phoenix socket (vsn 1.0.0, the protocol realtime-py speaks) open to
Supabase Realtime. Each request that waits for an answer joins its session's private channel
`chat:<session_id>` on that socket with ITS OWN user's access token in the join payload, so
Realtime's RLS on `realtime.messages` authorizes every join exactly as it does a browser's; this
process never widens what a token may hear. A join costs one frame and one reply on a socket that
is already open, instead of a TCP + websocket handshake and a `set_auth` per request.

Sharing: Phoenix allows one join per topic per socket, so concurrent requests on the same session
share one join, and only when they act for the same user (a later request refreshes the join's
token with its own, `access_token`, so the join lives as long as its newest listener's token). A
request for a topic joined for another user is refused the share and gets a socket of its own
(`ReplyFeed`). The join is left when its last listener leaves. Realtime holds a socket to at most
100 channels (its `max_channels_per_client`; localbase's REALTIME_MAX_CHANNELS_PER_CLIENT): a request
finding the hub's socket full gets a socket of its own too, never a refused join.

Failure: a socket that closes, or a channel the server closes (token expired, permission gone),
ends its listeners' events; they then read the stored row, which is the truth (`Relay` polls
it). The next request opens a new socket. Refuses: nothing silently; a join the server refuses
raises UpstreamUnavailable, as `ReplyFeed` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from api.errors import UpstreamUnavailable
from api.replies import ReplyEvent, ReplyFeed, parse_event
from api.security import CurrentUser

log = logging.getLogger(__name__)

HEARTBEAT_S = 25.0  # Phoenix's own default; the server drops a socket silent for 60 s
LOST_POLL_S = 0.25  # without a channel the row is the only news: read it as often as the worker writes it
CHANNELS_PER_SOCKET = 100  # Realtime's max_channels_per_client: a join past it is refused
_CHANNEL_CONFIG = {
    "private": True,
    "broadcast": {"self": False, "ack": False},
    "presence": {"key": "", "enabled": False},
}


@dataclass
class _Join:
    """One topic joined on the hub's socket for one user, and the queues listening to it."""

    user_id: str
    join_ref: str
    joined: asyncio.Future[None]
    listeners: set[asyncio.Queue[ReplyEvent | None]] = field(default_factory=set)


class HubFeed:
    """One request's view of its session's broadcasts; the same interface as `ReplyFeed`."""

    def __init__(self, hub: ReplyHub, topic: str, user_id: str, token: str) -> None:
        self._hub, self._topic, self._user_id, self._token = hub, topic, user_id, token
        self.events: asyncio.Queue[ReplyEvent | None] = asyncio.Queue()
        self._closed = False
        self.lost = False  # the channel or socket went away: only the stored row tells the rest

    async def __aenter__(self) -> HubFeed:
        await self._hub.listen(self._topic, self._user_id, self._token, self.events)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._closed:
            self._closed = True
            await self._hub.unlisten(self._topic, self.events)

    async def next(self, within: float) -> ReplyEvent | None:
        """The next event, or None when `within` seconds pass without one (or the join is gone)."""
        if self.lost:
            await asyncio.sleep(max(min(within, LOST_POLL_S), 0.0))
            return None
        try:
            async with asyncio.timeout(max(within, 0.0)):  # not wait_for: it can swallow a cancel (pyproject)
                event = await self.events.get()
        except TimeoutError:
            return None
        if event is None:
            self.lost = True
        return event


Feed = HubFeed | ReplyFeed


class ReplyHub:
    """The process's shared Realtime socket; `feed()` gives a request its session's stream."""

    def __init__(
        self, realtime_url: str, apikey: str, join_timeout: float, channels: int = CHANNELS_PER_SOCKET
    ) -> None:
        base = realtime_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self._url = f"{base}/websocket?" + urlencode({"apikey": apikey, "vsn": "1.0.0"})
        self._realtime_url, self._apikey, self._join_timeout = realtime_url, apikey, join_timeout
        self._socket: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connecting = asyncio.Lock()
        self._joins: dict[str, _Join] = {}
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._channels = channels

    def feed(self, user: CurrentUser, session_id: str) -> HubFeed | ReplyFeed:
        """The session's stream as `user` may hear it, on the shared socket when it can be."""
        topic = f"realtime:chat:{session_id}"
        held = self._joins.get(topic)
        taken = held.user_id != user.id if held is not None else len(self._joins) >= self._channels
        if taken:  # another user's join of the topic, or a full socket
            return ReplyFeed(self._realtime_url, self._apikey, user, session_id, self._join_timeout)
        return HubFeed(self, topic, user.id, user.token)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
            self._socket = None
        self._lose_all()

    # --- joining and leaving ----------------------------------------------------------------

    async def listen(self, topic: str, user_id: str, token: str, queue: asyncio.Queue[ReplyEvent | None]) -> None:
        held = self._joins.get(topic)
        if held is not None and held.user_id == user_id:
            held.listeners.add(queue)
            try:
                async with asyncio.timeout(self._join_timeout):
                    await asyncio.shield(held.joined)
                await self._send(topic, "access_token", {"access_token": token}, held.join_ref)
            except BaseException:
                held.listeners.discard(queue)
                raise
            return
        if held is not None:  # another user's join took the topic meanwhile (feed() checked before)
            raise UpstreamUnavailable("Could not join the answer stream (the topic is busy).")
        socket = await self._connect()
        ref = str(next(self._refs))
        join = _Join(user_id, ref, asyncio.get_running_loop().create_future(), {queue})
        self._joins[topic] = join
        payload = {"config": _CHANNEL_CONFIG, "access_token": token}
        try:
            reply = await self._request(socket, topic, "phx_join", payload, ref)
        except BaseException as exc:
            self._drop(topic, join)
            if not join.joined.done():
                join.joined.set_exception(UpstreamUnavailable("Realtime is not reachable."))
                join.joined.exception()  # retrieved: sharers, if any, see it through their own wait
            if isinstance(exc, asyncio.CancelledError | UpstreamUnavailable):
                raise
            raise UpstreamUnavailable("Realtime is not reachable.") from exc
        if reply.get("status") != "ok":
            self._drop(topic, join)
            reason = (reply.get("response") or {}).get("reason") or "refused"
            error = UpstreamUnavailable(f"Could not join the answer stream ({reason}).")
            join.joined.set_exception(error)
            join.joined.exception()
            raise error
        join.joined.set_result(None)

    async def unlisten(self, topic: str, queue: asyncio.Queue[ReplyEvent | None]) -> None:
        join = self._joins.get(topic)
        if join is None or queue not in join.listeners:
            return
        join.listeners.discard(queue)
        if join.listeners:
            return
        del self._joins[topic]
        if join.joined.done() and not join.joined.exception():
            with contextlib.suppress(Exception):
                await self._send(topic, "phx_leave", {}, join.join_ref)

    def _drop(self, topic: str, join: _Join) -> None:
        if self._joins.get(topic) is join:
            del self._joins[topic]

    # --- the socket -------------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        async with self._connecting:
            if self._socket is not None:
                return self._socket
            try:
                async with asyncio.timeout(self._join_timeout):
                    socket = await connect(self._url, max_size=None)
            except Exception as exc:
                raise UpstreamUnavailable("Realtime is not reachable.") from exc
            self._socket = socket
            self._tasks = [asyncio.create_task(self._read(socket)), asyncio.create_task(self._heartbeat(socket))]
            return socket

    async def _send(self, topic: str, event: str, payload: Any, join_ref: str | None, ref: str | None = None) -> None:
        socket = self._socket
        if socket is None:
            raise UpstreamUnavailable("Realtime is not reachable.")
        frame = {"topic": topic, "event": event, "payload": payload, "ref": ref or str(next(self._refs))}
        frame["join_ref"] = join_ref
        await socket.send(msgspec.json.encode(frame).decode())

    async def _request(
        self, socket: ClientConnection, topic: str, event: str, payload: Any, join_ref: str
    ) -> dict[str, Any]:
        ref = join_ref if event == "phx_join" else str(next(self._refs))
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ref] = waiter
        try:
            await self._send(topic, event, payload, join_ref, ref)
            async with asyncio.timeout(self._join_timeout):
                return await waiter
        finally:
            self._replies.pop(ref, None)

    async def _heartbeat(self, socket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(HEARTBEAT_S)
                await socket.send(
                    msgspec.json.encode(
                        {"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": str(next(self._refs))}
                    ).decode()
                )

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                self._on_frame(raw)
        except Exception as exc:  # a closed or broken socket: every listener falls back to the row
            log.warning("realtime hub socket closed", exc_info=exc)
        finally:
            if self._socket is socket:
                self._socket = None
                self._lose_all()

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return
        if not isinstance(frame, dict):
            return
        topic, event, payload = frame.get("topic"), frame.get("event"), frame.get("payload")
        if event == "phx_reply":
            waiter = self._replies.get(str(frame.get("ref")))
            if waiter is not None and not waiter.done():
                waiter.set_result(payload if isinstance(payload, dict) else {})
            return
        join = self._joins.get(topic) if isinstance(topic, str) else None
        if join is None or frame.get("join_ref") not in (None, join.join_ref):
            return
        if event == "broadcast" and isinstance(payload, dict):
            parsed = parse_event(str(payload.get("event") or ""), payload.get("payload") or {})
            if parsed is not None:
                for queue in join.listeners:
                    queue.put_nowait(parsed)
        elif event in {"phx_close", "phx_error"} or (
            event == "system" and isinstance(payload, dict) and payload.get("status") == "error"
        ):
            assert isinstance(topic, str)
            self._drop(topic, join)
            for queue in join.listeners:
                queue.put_nowait(None)

    def _lose_all(self) -> None:
        joins, self._joins = self._joins, {}
        for waiter in self._replies.values():
            if not waiter.done():
                waiter.set_exception(UpstreamUnavailable("Realtime is not reachable."))
        for join in joins.values():
            for queue in join.listeners:
                queue.put_nowait(None)
