"""Who is joined to what: the in-memory registry every fan-out reads.

A public and a private channel of one name are separate groups. Fan-out encodes a message once
per wire format (vsn) and topic, and writes the same framed bytes to every connection in the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from localbase.realtime import protocol
from localbase.realtime.wire import Outbound

if TYPE_CHECKING:
    from localbase.realtime.connection import Channel

GroupKey = tuple[str, bool]


class Hub:
    def __init__(self) -> None:
        self.groups: dict[GroupKey, set[Channel]] = {}
        self.watching_changes: set[Channel] = set()

    def add(self, channel: Channel) -> None:
        self.groups.setdefault((channel.topic, channel.private), set()).add(channel)
        if channel.bindings:
            self.watching_changes.add(channel)

    def remove(self, channel: Channel) -> None:
        key = (channel.topic, channel.private)
        members = self.groups.get(key)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[key]
        self.watching_changes.discard(channel)

    def members(self, topic: str, private: bool) -> set[Channel]:
        return self.groups.get((topic, private), set())

    async def push(self, channels: Iterable[Channel], event: str, payload: Any, skip: Channel | None = None) -> int:
        """Send one push to `channels`, encoding it once per protocol version; returns the count."""
        encoded: dict[tuple[str, str], Outbound] = {}
        sent = 0
        for channel in list(channels):
            if channel is skip:
                continue
            key = (channel.connection.vsn, channel.topic)
            frame = encoded.get(key)
            if frame is None:
                frame = encoded[key] = Outbound(protocol.encode_push(channel.topic, event, payload, key[0]))
            if not channel.connection.write(frame):
                await channel.connection.deliver(frame)
            sent += 1
        return sent
