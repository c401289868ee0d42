"""Broadcast: socket to socket, the REST API, and committed realtime.messages rows (spec 4.5).

service_role never touches the database here (the worker streams answer chunks through the REST
API); other callers' private writes are authorized by a cached RLS probe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from core.jwt import KeySet
from localbase.http import HttpError, Request
from localbase.realtime import protocol
from localbase.realtime.tokens import TokenError, verify
from localbase.realtime.wire import Outbound

if TYPE_CHECKING:
    from localbase.realtime.authz import Authorizer
    from localbase.realtime.connection import Channel
    from localbase.realtime.hub import Hub

_MAX_BODY = 1_048_576


class Broadcast:
    def __init__(self, hub: Hub, authz: Authorizer, keys: KeySet) -> None:
        self._hub = hub
        self._authz = authz
        self._keys = keys

    async def from_socket(self, channel: Channel, frame: protocol.Frame) -> None:
        payload = frame.payload
        if channel.private and not await self._authz.writable(channel.claims, channel.name, "broadcast"):
            return  # dropped without a reply, ack or not, as Realtime does: nothing went out
        if isinstance(payload, dict):
            skip = None if channel.broadcast_self else channel
            if isinstance(payload.get("payload"), bytes):
                await self._send_binary(
                    channel.topic, channel.private, str(payload.get("event")), payload["payload"], skip
                )
            else:
                await self._hub.push(self._readers(channel.topic, channel.private), "broadcast", payload, skip)
        if channel.ack:
            await channel.connection.reply(frame, "ok", {})

    async def _send_binary(self, topic: str, private: bool, event: str, body: bytes, skip: Channel | None) -> None:
        frame = Outbound(protocol.encode_binary_broadcast(topic, event, body))
        for member in list(self._readers(topic, private)):
            conn = member.connection
            if member is not skip and conn.vsn == protocol.V2 and not conn.write(frame):
                await conn.deliver(frame)

    async def send(self, topic: str, event: str, payload: Any, private: bool, message_id: str | None = None) -> None:
        message: dict[str, Any] = {"type": "broadcast", "event": event, "payload": payload}
        if message_id is not None:
            message["meta"] = {"id": message_id}
        full = f"realtime:{topic}"
        await self._hub.push(self._readers(full, private), "broadcast", message, message_id=message_id)

    def _readers(self, topic: str, private: bool) -> Iterable[Channel]:
        return self._hub.readers(topic, private, "broadcast")

    async def from_database(self, item: dict[str, Any]) -> None:
        """A committed realtime.messages row (realtime.send / broadcast_changes)."""
        await self.send(str(item["topic"]), str(item["event"]), item["payload"], bool(item["private"]), str(item["id"]))

    async def http(self, request: Request) -> None:
        """POST /api/broadcast (batch) and /api/broadcast/{topic}/events/{event} (single); 202 follows."""
        claims = self._caller(request)
        parts = _segments(request)
        body = await request.body(_MAX_BODY)
        if len(parts) == 2:
            messages = _batch(body)
        elif len(parts) == 5 and parts[3] == "events":
            private = request.query_value("private") == "true"
            if _is_binary(request.headers.get("content-type")):
                # Raw bytes go out as bytes (kind 4), to vsn 2.0.0 sockets only, as Realtime sends them.
                if not private or await self._authz.writable(claims, parts[2], "broadcast"):
                    await self._send_binary(f"realtime:{parts[2]}", private, parts[4], body, None)
                return
            try:
                payload = protocol.loads(body)
            except Exception as exc:
                raise HttpError(422, {"errors": {"payload": ["invalid JSON"]}}) from exc
            messages = [{"topic": parts[2], "event": parts[4], "payload": payload, "private": private}]
        else:
            raise HttpError(404, {"message": "Not found"})
        for message in messages:
            topic, private = str(message["topic"]), bool(message.get("private"))
            if private and not await self._authz.writable(claims, topic, "broadcast"):
                continue
            message_id = message.get("id")
            await self.send(
                topic, str(message["event"]), message.get("payload"), private, message_id and str(message_id)
            )

    def _caller(self, request: Request) -> dict[str, Any]:
        """The bearer's claims (else the apikey header's), or 401 {"message": "Unauthorized"} for
        any token Realtime would not take, as its AuthTenant plug answers."""
        token = request.bearer() or request.headers.get("apikey")
        try:
            if not token:
                raise TokenError("MissingAPIKey", "API key is missing")
            return verify(token, self._keys)
        except TokenError as exc:
            raise HttpError(401, {"message": "Unauthorized"}) from exc


def _segments(request: Request) -> list[str]:
    """The path below the mount in segments, each percent-decoded exactly once.

    realtime-py's `http_send` quotes the topic and event into one segment each, so a topic may
    hold `/` (`room/1` is `room%2F1`) and `%` (`a%41` is `a%2541`): the server's decoded path
    splits the first and, decoded again, delivers the second to `aA`. So the raw path is split
    first: its tail below the mount is the one that decodes to the routed path."""
    path = request.path
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        segments = raw.decode("latin-1").split("/")
        for start in range(1, len(segments)):
            below = segments[start:]
            if unquote("/" + "/".join(below)) == path:
                while below and not below[-1]:
                    below.pop()
                return [unquote(segment) for segment in below]
    return path.strip("/").split("/")


_UNSUPPORTED = "Unsupported Media Type. Use application/json or application/octet-stream"


def _is_binary(content_type: str | None) -> bool:
    """Whether a single broadcast's body is bytes (application/octet-stream) rather than JSON
    (application/json, or no Content-Type); any other media type is refused 415, as Realtime does."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("application/json", "application/octet-stream"):
        raise HttpError(415, {"error": _UNSUPPORTED})
    return media == "application/octet-stream"


def _batch(body: bytes) -> list[dict[str, Any]]:
    try:
        decoded = protocol.loads(body)
    except Exception as exc:
        raise HttpError(422, {"errors": {"messages": ["invalid JSON"]}}) from exc
    messages = decoded.get("messages") if isinstance(decoded, dict) else None
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("topic"), str) and isinstance(m.get("event"), str) for m in messages
    ):
        raise HttpError(422, {"errors": {"messages": ["must be a list of {topic, event, payload}"]}})
    return messages
