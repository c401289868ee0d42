"""Broadcast replay at join (`config.broadcast.replay`: `since`, in Unix milliseconds, and `limit`),
as Realtime's RealtimeChannel.maybe_replay_messages and Realtime.Messages.replay do it.

Asked for (the key present, whatever its value) on a public channel, the join fails; on a private
one the join also needs the broadcast read (a presence-only join fails as unauthorized). A replay
that is not a map is ignored; `since` and `limit` (default 25) must be integers, else the join
fails. Sent after the join's reply: the topic's private broadcasts stored since then, the latest
`limit` (1 to 25) of them, oldest first, each marked `replayed` with its row's id. Their ids stay
with the channel (`Channel.replayed`), and a live broadcast carrying one of them (`meta.id`: a
message committed just before the join, heard by the gateway just after it registered) is not
sent to it again, as Realtime's MessageDispatcher skips what it replayed. Not done:
realtime.messages has no binary payloads locally.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from localbase.realtime import protocol
from localbase.realtime.connection import Channel

_HARD_LIMIT = 25
_DEFAULT_LIMIT = 25
# Elixir's DateTime.from_unix takes years -9999..9999; Postgres's timestamps start in 4713 BC.
_SINCE_MIN, _SINCE_MAX = -377_705_116_800_000, 253_402_300_799_999
_OLDEST = -210_000_000_000_000  # 4685 BC: before any stored message, and a timestamp Postgres takes

_STORED = """
select id::text, event, payload::text from realtime.messages
 where topic = $1 and private and extension = 'broadcast'
   and inserted_at >= to_timestamp($2::float8 / 1000)::timestamp
   and inserted_at < (now() + interval '1 minute')::timestamp
 order by inserted_at desc
 limit $3
"""

NOT_ASKED = object()


class ReplayRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def asked(config: dict[str, Any]) -> Any:
    """The join's `broadcast.replay` as sent, or NOT_ASKED when it has none."""
    broadcast = config.get("broadcast")
    if not isinstance(broadcast, dict) or "replay" not in broadcast:
        return NOT_ASKED
    return broadcast["replay"]


def refusal(channel: Channel, replay: Any) -> str | None:
    """Why a join asking for `replay` fails (Realtime's can_replay? and replay params), or None."""
    if channel.private and "broadcast" not in channel.reads:
        return f"Unauthorized: You do not have permissions to read from this Channel topic: {channel.name}"
    if not channel.private:
        return "UnableToReplayMessages: Replay is not allowed for public channels"
    if isinstance(replay, dict) and _params(replay) is None:
        return "UnableToReplayMessages: Replay params are not valid"
    return None


def _params(replay: dict[str, Any]) -> tuple[int, int] | None:
    since = replay.get("since")
    limit = replay.get("limit")
    if limit is None or limit is False:
        limit = _DEFAULT_LIMIT
    if not (isinstance(since, int) and _integer(since) and isinstance(limit, int) and _integer(limit)):
        return None
    if not _SINCE_MIN <= since <= _SINCE_MAX:
        return None
    return max(since, _OLDEST), max(min(limit, _HARD_LIMIT), 1)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def stored(pool: asyncpg.Pool, channel: Channel, replay: Any) -> list[str]:
    """The frames of the stored broadcasts a join (already checked by `refusal`) asked for, read
    before the channel is registered, as Realtime reads them in its join; their ids are kept in
    `channel.replayed`."""
    params = _params(replay) if isinstance(replay, dict) else None
    if params is None:
        return []
    since, limit = params
    rows = await pool.fetch(_STORED, channel.name, since, limit)
    channel.replayed = frozenset(message_id for message_id, _event, _payload in rows)
    frames = []
    for message_id, event, payload in reversed(rows):
        message = {
            "type": "broadcast",
            "event": event,
            "payload": None if payload is None else protocol.loads(payload),
            "meta": {"replayed": True, "id": message_id},
        }
        frames.append(protocol.encode_push(channel.topic, "broadcast", message, channel.connection.vsn))
    return frames
