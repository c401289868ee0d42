"""Who is joined to what: the in-memory registry every fan-out reads.

A public and a private channel of one name are separate groups. Channels watching postgres_changes
are also grouped by their bindings (equal binding keys, in order), so a change is matched once per
distinct set of bindings, not once per socket. Fan-out encodes a message once per wire format (vsn)
and topic, and writes the same framed bytes to every connection in the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from localbase.realtime import protocol
from localbase.realtime.filters import Binding
from localbase.realtime.wire import Outbound

if TYPE_CHECKING:
    from localbase.realtime.connection import Channel, Connection

GroupKey = tuple[str, bool]
WatchKey = tuple[str, ...]


class Watchers:
    """Channels with the same bindings: one match per change serves them all."""

    __slots__ = ("bindings", "channels", "key")

    def __init__(self, key: WatchKey, bindings: list[Binding]) -> None:
        self.key = key
        self.bindings = list(bindings)
        self.channels: set[Channel] = set()


class Hub:
    def __init__(self) -> None:
        self.groups: dict[GroupKey, set[Channel]] = {}
        self.watching_changes: set[Channel] = set()
        self.watchers: dict[WatchKey, Watchers] = {}

    def add(self, channel: Channel) -> None:
        self.groups.setdefault((channel.topic, channel.private), set()).add(channel)
        if channel.bindings:
            self.watching_changes.add(channel)
            key = tuple(b.key for b in channel.bindings)
            watchers = self.watchers.get(key)
            if watchers is None:
                watchers = self.watchers[key] = Watchers(key, channel.bindings)
            watchers.channels.add(channel)
            channel.watch_key = watchers.key  # one shared tuple per group

    def remove(self, channel: Channel) -> None:
        key = (channel.topic, channel.private)
        members = self.groups.get(key)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[key]
        self.watching_changes.discard(channel)
        if channel.watch_key is not None:
            watchers = self.watchers.get(channel.watch_key)
            if watchers is not None:
                watchers.channels.discard(channel)
                if not watchers.channels:
                    del self.watchers[channel.watch_key]
            channel.watch_key = None

    def members(self, topic: str, private: bool) -> set[Channel]:
        return self.groups.get((topic, private), set())

    def readers(self, topic: str, private: bool, extension: str) -> Iterable[Channel]:
        """The members of a topic that may read `extension` (`broadcast`, `presence`): all of a
        public one; of a private one those whose policies allowed it (Realtime's read policies)."""
        members = self.members(topic, private)
        return [c for c in members if extension in c.reads] if private else members

    async def push(
        self,
        channels: Iterable[Channel],
        event: str,
        payload: Any,
        skip: Channel | None = None,
        message_id: str | None = None,
    ) -> int:
        """Send one push to `channels`, encoding it once per protocol version; returns the count.
        A stored broadcast's (`message_id`) skips the channels whose join replayed it already."""
        encoded: dict[tuple[str, str], Outbound] = {}
        sent = 0
        for channel in list(channels):
            if channel is skip or (message_id is not None and message_id in channel.replayed):
                continue
            key = (channel.connection.vsn, channel.topic)
            frame = encoded.get(key)
            if frame is None:
                frame = encoded[key] = Outbound(protocol.encode_push(channel.topic, event, payload, key[0]))
            if not channel.connection.write(frame):
                await channel.connection.deliver(frame)
            sent += 1
        return sent


class Outbox:
    """Frames for many connections, written with one transport write per connection: a burst of
    changes costs each subscriber one system call, not one per change. Each connection's frames
    keep the order they were added in. `immediate` writes each frame at once (nothing to coalesce
    when a run holds one change); only frames that need ASGI's `send` then wait for `flush`."""

    __slots__ = ("_immediate", "_queued")

    def __init__(self, immediate: bool = False) -> None:
        self._immediate = immediate
        self._queued: dict[Connection, list[Outbound]] = {}

    def add(self, connection: Connection, frame: Outbound) -> None:
        if self._immediate and connection.write(frame):
            return
        queued = self._queued.get(connection)
        if queued is None:
            self._queued[connection] = [frame]
        else:
            queued.append(frame)

    async def flush(self) -> None:
        queued, self._queued = self._queued, {}
        for connection, frames in queued.items():
            if not connection.write_all(frames):
                for frame in frames:
                    await connection.deliver(frame)
