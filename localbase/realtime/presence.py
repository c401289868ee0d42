"""Presence: track/untrack, presence_state to a join, presence_diff to the topic (spec 4.5).

State lives on the channels themselves (one meta per join), so a topic's state is read from its
members. A second track sends one diff with the new meta (carrying `phx_ref_prev`) in `joins` and
the old one in `leaves`; an unchanged payload is a no-op. A track on a join without presence enables
it, as Realtime's PresenceHandler does: no presence_state is sent then, and on a private topic the
join's presence read, not asked at join (channel.py), is asked with the track's write.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Any

from localbase.realtime import protocol

if TYPE_CHECKING:
    from localbase.realtime.authz import Authorizer
    from localbase.realtime.connection import Channel
    from localbase.realtime.hub import Hub

_refs = itertools.count(1)


def _ref() -> str:
    return f"F{next(_refs):x}"


class Presence:
    def __init__(self, hub: Hub, authz: Authorizer) -> None:
        self._hub = hub
        self._authz = authz

    def state(self, topic: str, private: bool) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for member in self._hub.members(topic, private):
            if member.presence_meta is not None and member.presence_key is not None:
                state.setdefault(member.presence_key, {"metas": []})["metas"].append(member.presence_meta)
        return state

    async def send_state(self, channel: Channel) -> None:
        if "presence" not in channel.reads:
            return  # a private join its policies do not let read presence is sent none
        state = self.state(channel.topic, channel.private)
        await channel.connection.deliver(
            protocol.encode_push(channel.topic, "presence_state", state, channel.connection.vsn)
        )

    async def handle(self, channel: Channel, frame: protocol.Frame) -> None:
        """A `presence` push, answered as Realtime's PresenceHandler answers it: the event in any
        case; a push without one ok (nothing done); a track without a payload tracks {}; what
        cannot be done (a private topic's track the policies refuse, an unknown event) a bare error."""
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        event = payload.get("event")
        conn = channel.connection
        if not isinstance(event, str):
            await conn.reply(frame, "ok", {})
            return
        event = event.lower()
        if event == "track":
            if channel.private and not await self._authz.writable(channel.claims, channel.name, "presence"):
                await conn.reply(frame, "error", {})
                return
            # Presence enabled by this track: its read, not asked at join, is asked now.
            if (
                channel.private
                and not channel.presence_enabled
                and "presence" in await self._authz.readable(channel.claims, channel.name)
            ):
                channel.reads = channel.reads | {"presence"}
            meta = payload.get("payload", {})  # absent: {}; present but null: refused
            if not isinstance(meta, dict):
                await conn.reply(frame, "error", {"reason": "Presence track payload must be a map"})
                return
            await conn.reply(frame, "ok", {})
            await self.track(channel, meta)
        elif event == "untrack":
            await conn.reply(frame, "ok", {})
            await self.forget(channel)
        else:
            await conn.reply(frame, "error", {})

    async def track(self, channel: Channel, fields: dict[str, Any]) -> None:
        if channel.presence_key is None:
            channel.presence_key = str(uuid.uuid4())
        old = channel.presence_meta
        if old is not None and {k: v for k, v in old.items() if not k.startswith("phx_ref")} == fields:
            return
        channel.presence_enabled = True  # a track enables presence, without a presence_state
        meta = {**fields, "phx_ref": _ref()}
        leaves: dict[str, Any] = {}
        if old is not None:
            meta["phx_ref_prev"] = old["phx_ref"]
            leaves = {channel.presence_key: {"metas": [old]}}
        channel.presence_meta = meta
        await self._diff(channel, {channel.presence_key: {"metas": [meta]}}, leaves)

    async def forget(self, channel: Channel) -> None:
        """untrack, leave or disconnect: the join's meta leaves."""
        old = channel.presence_meta
        if old is None or channel.presence_key is None:
            return
        channel.presence_meta = None
        await self._diff(channel, {}, {channel.presence_key: {"metas": [old]}})

    async def _diff(self, channel: Channel, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        readers = self._hub.readers(channel.topic, channel.private, "presence")
        await self._hub.push(readers, "presence_diff", {"joins": joins, "leaves": leaves})
