"""Phoenix channel frames as the Supabase clients speak them.

vsn 1.0.0 (realtime-py): text frames holding a JSON object. vsn 2.0.0 (realtime-js): text frames
holding `[join_ref, ref, topic, event, payload]`, plus binary frames for broadcasts (kind 3 from
the client, kind 4 to it). Server pushes always carry `ref: null`: realtime-py drops them otherwise.
"""

from __future__ import annotations

from typing import Any

import msgspec

V1 = "1.0.0"
V2 = "2.0.0"
_PUSH_KIND = 3
_BROADCAST_KIND = 4
_JSON_ENCODING = 1

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class ProtocolError(Exception):
    """A frame we cannot read; the socket ignores it."""


class Frame(msgspec.Struct, array_like=True):
    """One inbound message, whatever its encoding."""

    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


def decode(data: str | bytes, vsn: str) -> Frame:
    """Read a client frame: JSON object (v1), JSON array (v2) or binary kind 3 (v2 broadcast)."""
    try:
        if isinstance(data, bytes):
            return _decode_binary_push(data)
        raw = _decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, IndexError) as exc:
        raise ProtocolError(str(exc)) from exc
    if isinstance(raw, list) and len(raw) == 5:
        join_ref, ref, topic, event, payload = raw
    elif isinstance(raw, dict):
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
    else:
        raise ProtocolError("frame is neither a JSON object nor a 5-element array")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("frame without topic or event")
    return Frame(_ref(join_ref), _ref(ref), topic, event, payload if payload is not None else {})


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def _decode_binary_push(data: bytes) -> Frame:
    """Kind 3: realtime-js sends every websocket broadcast this way (spec 4.1)."""
    if len(data) < 7 or data[0] != _PUSH_KIND:
        raise ProtocolError("unsupported binary frame")
    lengths = data[1:6]
    encoding = data[6]
    offset = 7
    parts: list[str] = []
    for length in lengths:
        parts.append(data[offset : offset + length].decode())
        offset += length
    join_ref, ref, topic, event, meta = parts
    body = data[offset:]
    payload: Any = _decode(body) if encoding == _JSON_ENCODING else bytes(body)
    broadcast: dict[str, Any] = {"type": "broadcast", "event": event, "payload": payload}
    if meta:
        broadcast["meta"] = _decode(meta)
    return Frame(join_ref or None, ref or None, topic, "broadcast", broadcast)


def encode_push(topic: str, event: str, payload: Any, vsn: str) -> str:
    """A server push (broadcast, presence, postgres_changes, system): refs are null."""
    if vsn == V2:
        return _encode([None, None, topic, event, payload]).decode()
    return _encode({"topic": topic, "event": event, "payload": payload, "ref": None, "join_ref": None}).decode()


def encode_reply(  # noqa: PLR0917 - the frame's fields, in wire order
    topic: str, ref: str | None, join_ref: str | None, status: str, response: Any, vsn: str
) -> str:
    payload = {"status": status, "response": response}
    return encode_message(topic, "phx_reply", payload, ref, join_ref, vsn)


def encode_message(  # noqa: PLR0917 - the frame's fields, in wire order
    topic: str, event: str, payload: Any, ref: str | None, join_ref: str | None, vsn: str
) -> str:
    """A frame tied to a client push or join (replies, phx_close, phx_error)."""
    if vsn == V2:
        return _encode([join_ref, ref, topic, event, payload]).decode()
    return _encode({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}).decode()


def encode_binary_broadcast(topic: str, event: str, payload: bytes) -> bytes:
    """Kind 4 with a binary payload: only v2 clients can receive raw bytes."""
    head = [topic.encode(), event.encode(), b""]
    return bytes([_BROADCAST_KIND, *(len(part) for part in head), 0]) + b"".join(head) + payload


def dumps(value: Any) -> bytes:
    return _encode(value)


def loads(data: str | bytes) -> Any:
    return _decode(data)


def encode_push_raw(topic: str, event: str, payload_json: str, vsn: str) -> str:
    """A server push whose payload is already JSON text (postgres_changes encodes `data` once)."""
    head = _encode(topic).decode()
    if vsn == V2:
        return f'[null,null,{head},"{event}",{payload_json}]'
    return f'{{"topic":{head},"event":"{event}","payload":{payload_json},"ref":null,"join_ref":null}}'
