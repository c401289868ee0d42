"""Hostile knocks at the API's chat WebSocket (`WS /ws/chat/{session_id}`): handshakes with hostile
session ids and tokens (in the query or the Authorization header; another user's session, an
expired token), then frames: questions (some sent again by their id) and stops with hostile fields
(another user's role among them), fresh tokens (the user's own, expired, another user's, hostile),
pings, pongs, unknown types, garbage text and binary.

A knock is one socket. When its session and token are the fuzz user's own, it must be served: after
its frames a ping must be answered with a pong, the socket never closed by the server, every frame
but a ping or a pong answered by exactly one reply, no error frame carrying a server error's code,
and the new questions it acknowledged must be exactly the questions stored (no more, no fewer,
never under another user's role; a question sent again by its id is acknowledged, not stored); a
knock that acknowledged none and stopped none must change no row. Any other handshake must be refused: closed with
4401 or 4404, or answered with an HTTP status below 500. The API and the gateway must stay up and
the API log no error. `make test` sends a fixed, derandomized set of knocks (and the cross-user
ones), `make fuzz` fresh ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from api.errors import ApiError
from tests.api.conftest import ApiProcess
from tests.conftest import LocalStack
from tests.fuzz.conftest import Fingerprint, FuzzReport, World
from tests.fuzz.door import LogWatch, header_safe
from tests.fuzz.hostile import (
    FUZZ,
    FUZZ_REQUESTS,
    IN_URL,
    fuzz_settings,
    hostile_text,
    hostile_value,
    json_bytes,
    mostly,
    text_frame,
    url_part,
)

pytestmark = pytest.mark.timeout(3600 if FUZZ else 300)

EXAMPLES = 60
FRAME_TYPES = ("user_message", "stop", "access_token", "ping", "pong")
QUESTION_IDS = tuple(str(uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz-question-{n}")) for n in range(3))  # sent again
REFUSALS = (4401, 4404)  # a token that is not the user's own, a session that is not theirs


def _server_codes() -> frozenset[str]:
    """The error codes of the API's server errors (status >= 500): a frame carrying one is our bug."""
    found: set[str] = set()
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind.status >= 500:
            found.add(kind.code)
    return frozenset(found)


SERVER_CODES = _server_codes()


@dataclass(frozen=True)
class Knock:
    """One socket: a handshake for `session` with `token` (query or header), then `frames`."""

    session: str
    token: str
    via: str
    frames: tuple[str | bytes, ...]

    def __repr__(self) -> str:
        frames = [f[:300] for f in self.frames]
        return f"Knock({self.session[:80]!r}, token={self.token[:40]!r} via {self.via}, {frames!r})"


def _frame_data(kind: Any, world: World) -> st.SearchStrategy[Any]:
    if kind == "user_message":
        role = st.sampled_from(("assistant", "tech_expert", world.other_role_id, world.other_role_slug))
        usual = st.fixed_dictionaries(
            {"message": mostly(st.sampled_from(("你好", "hello", "  spaced  ")), hostile_value())},
            optional={
                "role_id": mostly(role, hostile_value()),
                "timestamp": hostile_value(),
                "message_id": mostly(st.sampled_from(QUESTION_IDS), hostile_value()),
            },
        )
        return mostly(usual, hostile_value())
    if kind == "stop":
        return mostly(
            st.fixed_dictionaries({}, optional={"message_id": mostly(st.uuids().map(str), hostile_value())}),
            hostile_value(),
        )
    if kind == "access_token":
        tokens = st.sampled_from((world.user.access_token, world.expired_token, world.other_token, "not.a.jwt"))
        return mostly(st.fixed_dictionaries({"access_token": mostly(tokens, hostile_value())}), hostile_value())
    return mostly(st.just({}), hostile_value())


@st.composite
def knock(draw: Callable[..., Any], world: World) -> Knock:
    session = draw(
        mostly(
            st.just(world.session_id),
            st.one_of(
                st.sampled_from((world.other_session_id, str(uuid.uuid4()), world.session_id.upper())),
                hostile_text(IN_URL),
            ),
        )
    )
    token = draw(
        mostly(
            st.just(world.user.access_token),
            st.one_of(st.sampled_from((world.expired_token, "not.a.jwt", "")), hostile_text(IN_URL)),
        )
    )
    frames: list[str | bytes] = []
    for _ in range(draw(st.integers(0, 4))):
        shape = draw(st.sampled_from(("frame", "frame", "frame", "garbage")))
        if shape == "frame":
            kind = draw(mostly(st.sampled_from(FRAME_TYPES), hostile_value()))
            body: dict[str, Any] = {"type": kind}
            if draw(st.booleans()) or kind in ("user_message", "access_token"):
                body["data"] = draw(_frame_data(kind, world))
            frames.append(text_frame(json_bytes(body).decode()))
        else:
            frames.append(draw(st.one_of(hostile_text().map(text_frame), st.binary(max_size=200))))
    return Knock(session, token, draw(st.sampled_from(("query", "header"))), tuple(frames))


def _control(frame: str | bytes) -> str | None:
    """ "ping" or "pong" when the server reads `frame` as one (a JSON object of that type whose data,
    if any, is an object): a ping is answered by a pong, a pong by nothing, any other frame by one
    reply (its answer, or an error)."""
    try:
        body = json.loads(frame) if isinstance(frame, str) else None
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("type") in ("ping", "pong") and isinstance(body.get("data", {}), dict):
        return str(body["type"])
    return None


class ChatDoor:
    """Sends knocks at the API's chat socket and judges what comes back."""

    def __init__(
        self,
        api: ApiProcess,
        stack: LocalStack,
        world: World,
        fingerprint: Fingerprint,
        report: FuzzReport,
        *,
        suite: str,
    ) -> None:
        self.api = api
        self.stack = stack
        self.world = world
        self.fingerprint = fingerprint
        self.report = report.suite(suite)
        self.baseline = fingerprint.take()
        self.logged = LogWatch(api.log)
        self.acknowledged: set[str] = set()  # the ids of the questions the socket acknowledged

    def questions(self) -> int:
        found = self.fingerprint.fetch(
            f"select count(*) as n from chat_messages where session_id = '{self.world.session_id}'"
            " and message_type = 'user'"
        )
        return int(found[0]["n"])

    def send(self, knocked: Knock) -> list[dict[str, Any]]:
        """Knock, judge, and return the frames the server answered with (its heartbeats left out)."""
        label = repr(knocked)[:700]
        served = knocked.session.lower() == self.world.session_id and knocked.token == self.world.user.access_token
        url = f"{self.api.ws_url}/ws/chat/{url_part(knocked.session)}"
        headers: dict[str, str] = {}
        if knocked.via == "query":
            url += f"?token={url_part(knocked.token)}"
        else:
            headers["Authorization"] = "Bearer " + header_safe(knocked.token).decode("utf-8", "replace")
        before = self.questions()
        replies: list[dict[str, Any]] = []
        try:
            with connect(url, additional_headers=headers, open_timeout=10, max_size=None) as ws:
                try:
                    for data in knocked.frames:
                        ws.send(data)
                    ws.send(json.dumps({"type": "ping"}))
                    pings = sum(_control(each) == "ping" for each in knocked.frames)
                    outcome = self._until_pong(ws, replies, pings + 1)
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd is not None else None
                    outcome = f"closed {code}"
        except InvalidStatus as refused:
            outcome = f"HTTP {refused.response.status_code}"
        status = 101 if outcome == "served" else 0
        if outcome.startswith("HTTP "):
            status = int(outcome.split()[1])
        self.report.count("WS /ws/chat knock", status)
        if served and outcome != "served":
            self.report.failures.append(f"{label} -> {outcome}, expected to be served")
        if not served and not (outcome in (f"closed {code}" for code in REFUSALS) or 400 <= status < 500):
            self.report.failures.append(f"{label} -> {outcome}, expected a refusal")
        if outcome == "served":
            answered = sum(_control(each) is None for each in knocked.frames)
            if len(replies) != answered:
                self.report.failures.append(f"{label} -> {len(replies)} replies to {answered} frames: {replies}"[:1500])
        self._judge(label, replies, before)
        return replies

    def _judge(self, label: str, replies: list[dict[str, Any]], before: int) -> None:
        for reply in replies:
            data = reply.get("data") or {}
            self.report.operations[f"reply {reply.get('type')} {data.get('code') or ''}".strip()] += 1
            if reply.get("type") == "error" and (data.get("code") in SERVER_CODES or not data.get("message")):
                self.report.failures.append(f"{label} -> error frame {data}")
        acks = [r["data"] for r in replies if r.get("type") == "user_message"]
        if any(ack.get("role_id") == self.world.other_role_slug for ack in acks):
            self.report.failures.append(f"{label} -> a question under another user's role: {acks}")
        self.baseline, changed = self.fingerprint.step(self.baseline)
        stored = self.questions() - before
        new = {str(ack.get("message_id")) for ack in acks} - self.acknowledged  # a question sent again: no row
        self.acknowledged |= new
        if stored != len(new):
            self.report.failures.append(f"{label} -> {len(new)} new questions acknowledged, {stored} stored")
        stopped = sum(int((r.get("data") or {}).get("stopped") or 0) for r in replies if r.get("type") == "stopped")
        if not acks and not stopped and changed:  # a stop ends the questions still waiting: rows change
            self.report.failures.append(f"{label} changed {changed} and acknowledged and stopped nothing")

    @staticmethod
    def _until_pong(ws: Connection, replies: list[dict[str, Any]], pongs: int) -> str:
        """ "served" once the `pongs`-th pong came (the last is our ping's, after every frame's reply)."""
        while pongs:
            try:
                data = ws.recv(timeout=15)
            except TimeoutError:
                return "no pong within 15 s"
            if isinstance(data, bytes):
                return f"a binary frame {data[:100]!r}"
            reply = json.loads(data)
            if reply.get("type") == "pong":
                pongs -= 1
            elif reply.get("type") != "ping":  # the server's own heartbeat
                replies.append(reply)
        return "served"


def _knock_all(door: ChatDoor, knocks: list[Knock]) -> None:
    for each in knocks:
        door.send(each)
    assert door.api.process.poll() is None, "the API died"
    assert door.stack.process is not None
    assert door.stack.process.poll() is None, "the gateway died"
    assert door.report.failures == []
    assert door.logged.errors() == []


def _cross_user(world: World) -> list[Knock]:
    """Knocks at what is someone else's, sent on every run whatever the draws: a question under
    another user's private role (by uuid and by slug), a question on another user's session, and a
    token that expired, in the header; and on the user's own socket, another user's token offered as
    a fresh one, then a question (still the user's own)."""
    own, token = world.session_id, world.user.access_token

    def question(**data: str) -> str:
        return json.dumps({"type": "user_message", "data": {"message": "hi", **data}})

    return [
        Knock(own, token, "query", (question(role_id=world.other_role_id), question(role_id=world.other_role_slug))),
        Knock(world.other_session_id, token, "query", (question(),)),
        Knock(world.other_session_id, token, "header", (question(),)),
        Knock(own, world.expired_token, "header", (question(),)),
        Knock(
            own,
            token,
            "header",
            (json.dumps({"type": "access_token", "data": {"access_token": world.other_token}}), question()),
        ),
    ]


def test_api_socket_refuses_what_is_another_users(
    fuzz_api: ApiProcess, fuzz_stack: LocalStack, world: World, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    door = ChatDoor(fuzz_api, fuzz_stack, world, fingerprint, fuzz_report, suite="api socket: cross-user")
    first, *others, swap = _cross_user(world)
    refused = [(r["type"], r["data"]["code"]) for r in door.send(first)]
    assert refused == [("error", "RoleNotFound")] * 2
    _knock_all(door, others)
    replies = [(r["type"], r["data"].get("code")) for r in door.send(swap)]
    assert replies == [("error", "TokenUserMismatch"), ("user_message", None)]
    _knock_all(door, [])
    # the first and the last served (the other user's role and token refused), the rest refused
    assert door.report.statuses == {101: 2, 0: 3}


def test_api_socket_serves_on_through_hostile_knocks(
    fuzz_api: ApiProcess, fuzz_stack: LocalStack, world: World, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    door = ChatDoor(fuzz_api, fuzz_stack, world, fingerprint, fuzz_report, suite="api socket")
    budget = FUZZ_REQUESTS // 4

    @given(knocked=knock(world))
    @fuzz_settings(EXAMPLES, fuzz=budget)
    def probe(knocked: Knock) -> None:
        door.send(knocked)

    probe()
    _knock_all(door, [])
    if FUZZ:
        assert door.report.requests >= budget
