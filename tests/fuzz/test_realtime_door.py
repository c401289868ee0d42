"""Hostile frames at the local stack's Realtime door: joins with hostile topics, configs, Postgres
change bindings (schemas, tables, filters) and tokens, broadcasts, presence, token refreshes and
leaves, as v1 JSON objects, v2 arrays, binary pushes and plain garbage.

A knock is a few frames on one socket followed by a heartbeat: the heartbeat's reply must come (the
socket still served; the server closing it, with 1011 for its own error or otherwise, fails), the
gateway must stay up and log no error, and nothing sent on a socket may change a row.
`make test` sends a fixed, derandomized set of knocks (plus FOUND), `make fuzz` fresh ones.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from tests.conftest import LocalStack
from tests.fuzz.conftest import Fingerprint, FuzzReport, FuzzUser
from tests.fuzz.door import LogWatch
from tests.fuzz.hostile import (
    FUZZ,
    FUZZ_REQUESTS,
    fuzz_settings,
    hostile_text,
    hostile_value,
    json_bytes,
    mostly,
    text_frame,
)

pytestmark = pytest.mark.timeout(3600 if FUZZ else 300)

EXAMPLES = 60
EVENTS = ("broadcast", "presence", "access_token", "phx_leave", "heartbeat", "phx_join")
TABLES = ("chat_messages", "chat_sessions", "profiles", "ai_roles", "*")
CHANGE_EVENTS = ("*", "INSERT", "UPDATE", "DELETE")
V1, V2 = "1.0.0", "2.0.0"
# A public room, a private chat channel of a session nobody has, and a table's changes.
TOPICS = ("realtime:room", "realtime:chat:00000000-0000-4000-8000-000000000001", "realtime:public:chat_messages")


@dataclass(frozen=True)
class Knock:
    """Frames sent on one fresh socket of protocol `vsn`, then a heartbeat that must be answered."""

    vsn: str
    frames: tuple[str | bytes, ...]

    def __repr__(self) -> str:
        return f"Knock({self.vsn}, {[f[:300] for f in self.frames]!r})"


def frame(vsn: str, topic: Any, event: Any, payload: Any, *, ref: str, join_ref: str | None = None) -> str:
    """One client frame as the clients of `vsn` write it (lone surrogates as JSON escapes)."""
    if vsn == V2:
        return json_bytes([join_ref, ref, topic, event, payload]).decode()
    return json_bytes({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}).decode()


def _binary(topic: str, event: str, body: bytes, *, lengths: list[int] | None = None) -> bytes:
    """A v2 binary push (kind 3), its header lengths given or true."""
    parts = [b"", b"", topic.encode("utf-8", "surrogatepass"), event.encode("utf-8", "surrogatepass"), b""]
    sizes = lengths if lengths is not None else [len(part) for part in parts]
    return bytes([3, *(min(max(n, 0), 255) for n in sizes), 1]) + b"".join(parts) + body


def _join_payload(user: FuzzUser) -> st.SearchStrategy[Any]:
    binding = st.fixed_dictionaries(
        {},
        optional={
            "event": mostly(st.sampled_from(CHANGE_EVENTS), hostile_value()),
            "schema": mostly(st.sampled_from(("public", "*")), hostile_value()),
            "table": mostly(st.sampled_from(TABLES), hostile_value()),
            "filter": mostly(
                st.sampled_from((f"user_id=eq.{user.user_id}", "id=in.(1,2)", "status=neq.done", "content=ilike.*")),
                st.one_of(
                    hostile_value(),
                    st.tuples(st.sampled_from(("like", "imatch", "not.match")), hostile_text(200)).map(
                        lambda op_text: f"content={op_text[0]}.{op_text[1]}"
                    ),
                ),
            ),
        },
    )
    config = st.fixed_dictionaries(
        {},
        optional={
            "broadcast": mostly(st.fixed_dictionaries({"self": st.booleans(), "ack": st.booleans()}), hostile_value()),
            "presence": mostly(
                st.fixed_dictionaries({"key": hostile_text(200), "enabled": st.booleans()}), hostile_value()
            ),
            "postgres_changes": mostly(st.lists(binding, max_size=3), hostile_value()),
            "private": mostly(st.booleans(), hostile_value()),
        },
    )
    return mostly(
        st.fixed_dictionaries(
            {"config": mostly(config, hostile_value())},
            optional={"access_token": mostly(st.just(user.access_token), hostile_value())},
        ),
        hostile_value(),
    )


def _payload(event: str, user: FuzzUser) -> st.SearchStrategy[Any]:
    if event == "phx_join":
        return _join_payload(user)
    if event == "broadcast":
        message = st.fixed_dictionaries(
            {"type": st.just("broadcast"), "event": hostile_text(200), "payload": hostile_value()}
        )
        return mostly(message, hostile_value())
    if event == "presence":
        kind = mostly(st.sampled_from(("track", "untrack")), hostile_value())
        return mostly(
            st.fixed_dictionaries({"type": st.just("presence"), "event": kind, "payload": hostile_value()}),
            hostile_value(),
        )
    if event == "access_token":
        return mostly(
            st.fixed_dictionaries({"access_token": mostly(st.just(user.access_token), hostile_value())}),
            hostile_value(),
        )
    return hostile_value()


@st.composite
def knock(draw: Callable[..., Any], user: FuzzUser) -> Knock:
    vsn = draw(st.sampled_from((V1, V2)))
    refs = (str(n) for n in itertools.count(1))
    topic = draw(
        mostly(
            st.sampled_from(
                ("realtime:room", "realtime:chat:00000000-0000-4000-8000-000000000001", "realtime:public:chat_messages")
            ),
            st.one_of(hostile_text(500).map(lambda t: f"realtime:{t}"), hostile_value()),
        )
    )
    join_ref = next(refs)
    frames: list[str | bytes] = [
        frame(vsn, topic, "phx_join", draw(_join_payload(user)), ref=join_ref, join_ref=join_ref)
    ]
    for _ in range(draw(st.integers(0, 3))):
        shape = draw(st.sampled_from(("event", "event", "event", "binary", "garbage")))
        if shape == "event":
            event = draw(mostly(st.sampled_from(EVENTS), hostile_text(200)))
            on = draw(mostly(st.just(topic), hostile_value()))
            frames.append(frame(vsn, on, event, draw(_payload(event, user)), ref=next(refs), join_ref=join_ref))
        elif shape == "binary":
            name = topic if isinstance(topic, str) else "realtime:room"
            lengths = draw(st.one_of(st.none(), st.lists(st.integers(-1, 300), min_size=5, max_size=5)))
            frames.append(_binary(name, draw(hostile_text(100)), draw(st.binary(max_size=200)), lengths=lengths))
        else:
            frames.append(draw(st.one_of(hostile_text().map(text_frame), st.binary(max_size=200))))
    return Knock(vsn, tuple(frames))


class Socket:
    """Sends knocks at the gateway's websocket and judges what comes back."""

    def __init__(self, stack: LocalStack, user: FuzzUser, fingerprint: Fingerprint, report: FuzzReport, suite: str):
        self.url = stack.url.replace("http://", "ws://") + "/realtime/v1/websocket?apikey=" + stack.anon_key
        self.stack = stack
        self.fingerprint = fingerprint
        self.report = report.suite(suite)
        self.baseline = fingerprint.take()
        self.logged = LogWatch(Path(stack.env["LOCALBASE_LOG"]))

    def send(self, knocked: Knock) -> None:
        label = repr(knocked)[:600]
        with connect(f"{self.url}&vsn={knocked.vsn}", open_timeout=10, max_size=None) as ws:
            try:
                for data in knocked.frames:
                    ws.send(data)
                heartbeat = frame(knocked.vsn, "phoenix", "heartbeat", {}, ref="heartbeat")
                ws.send(heartbeat)
                outcome = self._until_heartbeat(ws, knocked.vsn)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                outcome = f"closed {code}"
        self.report.count("REALTIME knock", 101 if outcome == "served" else 0)  # 101: the upgrade, then served
        if outcome != "served":
            self.report.failures.append(f"{label} -> {outcome}")
        self.baseline, changed = self.fingerprint.step(self.baseline)
        if changed:
            self.report.failures.append(f"{label} changed {changed}")

    @staticmethod
    def _until_heartbeat(ws: Connection, vsn: str) -> str:
        while True:
            try:
                data = ws.recv(timeout=15)
            except TimeoutError:
                return "no heartbeat reply within 15 s"
            if isinstance(data, bytes):
                continue
            message = json.loads(data)
            if vsn == V2 and isinstance(message, list):
                ref, event = message[1], message[3]
            else:
                ref, event = message.get("ref"), message.get("event")
            if ref == "heartbeat" and event == "phx_reply":
                return "served"


def _knock_all(socket: Socket, knocks: list[Knock]) -> None:
    for each in knocks:
        socket.send(each)
    assert socket.stack.process is not None
    assert socket.stack.process.poll() is None, "the gateway died"
    assert socket.report.failures == []
    assert socket.logged.errors() == []


# 12-03: a join whose config, or a part of it, was not the JSON type the clients send (a string for
# `presence`, say) raised in the gateway and closed the socket with 1011.
FOUND: list[Knock] = [
    Knock(vsn, (frame(vsn, "realtime:room", "phx_join", {"config": config}, ref="1", join_ref="1"),))
    for vsn in (V1, V2)
    for config in (
        "True",
        ["x"],
        {"presence": "x"},
        {"broadcast": [1]},
        {"postgres_changes": {"table": "*"}},
        # 12-03: a pattern that does not compile raised in the join the same way.
        {
            "postgres_changes": [
                {"event": "*", "schema": "public", "table": "chat_messages", "filter": "content=match.("}
            ]
        },
    )
]


def test_found_realtime_cases_stay_fixed(
    fuzz_stack: LocalStack, fuzz_user: FuzzUser, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    _knock_all(Socket(fuzz_stack, fuzz_user, fingerprint, fuzz_report, "found"), FOUND)


def test_realtime_door_serves_on_through_hostile_frames(
    fuzz_stack: LocalStack, fuzz_user: FuzzUser, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    socket = Socket(fuzz_stack, fuzz_user, fingerprint, fuzz_report, "realtime")
    budget = FUZZ_REQUESTS // 4

    @given(knocked=knock(fuzz_user))
    @fuzz_settings(EXAMPLES, fuzz=budget)
    def probe(knocked: Knock) -> None:
        socket.send(knocked)

    probe()
    _knock_all(socket, [])
    if FUZZ:
        assert socket.report.requests >= budget
