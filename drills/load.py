"""The drills' load: conversations that keep asking questions, through REST (as supabase-js does)
or through the API's send endpoint, and a ledger of what each send was told.

A send is `acked` when the server confirmed the stored question (REST 201 with the row, API 200,
or API 504 AnswerTimeout carrying the question's id), `refused` on a 4xx, `failed` on a 5xx and
`ambiguous` when no answer came back at all. Every question carries a nonce in its text, so the
audit can match database rows to sends whatever the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from drills.rig import Person, Rig

log = logging.getLogger(__name__)
FINAL = ("completed", "error", "cancelled")


@dataclass
class Send:
    nonce: str
    via: str
    outcome: str = "ambiguous"
    status: int | None = None
    message_id: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Ledger:
    sends: list[Send] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.sends if s.outcome == outcome)

    def acked_after(self, moment: float) -> list[Send]:
        return [s for s in self.sends if s.outcome == "acked" and s.at >= moment]


def question_text(nonce: str, turn: int) -> str:
    return f"drill {nonce}: question {turn}, 你好, how are you today?"


def _classify(send: Send, response: httpx.Response) -> None:
    send.status = response.status_code
    if response.status_code >= 500:
        send.outcome = "failed"
    elif response.status_code >= 400:
        send.outcome = "refused"


async def send_rest(http: httpx.AsyncClient, rig: Rig, person: Person, send: Send, turn: int) -> None:
    """Insert a question through the gateway's REST as the user, the way supabase-js would."""
    headers = {
        "apikey": rig.settings.supabase.anon_key,
        "Authorization": f"Bearer {person.token}",
        "Prefer": "return=representation",
    }
    body = {"session_id": person.session_id, "user_id": person.user_id, "content": question_text(send.nonce, turn)}
    try:
        response = await http.post(f"{rig.gateway_url}/rest/v1/chat_messages", json=body, headers=headers)
    except httpx.HTTPError:
        return
    _classify(send, response)
    if response.status_code == 201:
        send.outcome, send.message_id = "acked", str(response.json()[0]["id"])


async def send_api(http: httpx.AsyncClient, rig: Rig, person: Person, send: Send, turn: int) -> None:
    """POST /api/chat/send, which stores the question and waits for the answer."""
    body = {"message": question_text(send.nonce, turn), "session_id": person.session_id}
    try:
        response = await http.post(
            f"{rig.api_url}/api/chat/send", json=body, headers={"Authorization": f"Bearer {person.token}"}
        )
    except httpx.HTTPError:
        return
    _classify(send, response)
    if response.status_code == 200:
        send.outcome, send.message_id = "acked", str(response.json()["user_message_id"])
    elif response.status_code == 504:
        message_id = response.json().get("error", {}).get("message_id")
        if message_id:
            send.outcome, send.message_id = "acked", str(message_id)


class AnswerWatch:
    """One poller for every question the conversations are waiting on (cheap, and it rides out
    a database restart by retrying)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._waiting: dict[str, asyncio.Event] = {}

    async def wait(self, message_id: str, within: float) -> bool:
        event = self._waiting.setdefault(message_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), within)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.pop(message_id, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            if not self._waiting:
                continue
            try:
                done = await self._pool.fetch(
                    "select reply_to::text from chat_messages where reply_to = any($1::uuid[])"
                    " and status = any($2::message_status[])",
                    list(self._waiting),
                    list(FINAL),
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.debug("answer watch: database unavailable (%s)", exc)
                continue
            for row in done:
                event = self._waiting.get(row[0])
                if event is not None:
                    event.set()


@dataclass
class Load:
    """Conversations asking one question at a time: send, wait (up to `patience`) for the
    answer, pause, repeat until stopped. `vias` alternates the path per conversation."""

    rig: Rig
    people: list[Person]
    ledger: Ledger
    vias: tuple[str, ...] = ("rest",)
    pause: float = 0.05
    patience: float = 15.0
    timeout: float = 30.0

    async def _converse(
        self, http: httpx.AsyncClient, watch: AnswerWatch, person: Person, via: str, stop: asyncio.Event
    ) -> None:
        sender = send_api if via == "api" else send_rest
        turn = 0
        while not stop.is_set():
            turn += 1
            # In the ledger before it leaves: a send that gets no response stays ambiguous.
            send = Send(uuid.uuid4().hex[:16], via)
            self.ledger.sends.append(send)
            await sender(http, self.rig, person, send, turn)  # never cut short: see `running`
            if send.outcome == "acked" and via == "rest" and send.message_id:
                await _unless_stopped(watch.wait(send.message_id, self.patience), stop)
            elif send.outcome != "acked":
                await _unless_stopped(asyncio.sleep(0.2), stop)  # refused or failed: back off, as a client would
            await _unless_stopped(asyncio.sleep(self.pause), stop)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Conversations run while the block runs. Leaving it stops them after the sends in flight
        have their responses: a send cancelled on the client may still be stored by the server after
        the audit has looked (a question the audit then finds unanswered)."""
        watch = AnswerWatch(self.rig.pool)
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=len(self.people) + 4)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits, trust_env=False) as http:
            watching = asyncio.create_task(watch.run())
            talks = [
                asyncio.create_task(self._converse(http, watch, person, self.vias[i % len(self.vias)], stop))
                for i, person in enumerate(self.people)
            ]
            try:
                yield
            finally:
                stop.set()
                # Each send ends within `timeout`; a drill that fails (or is cancelled) mid-load still
                # waits for them, so no request outlives the rig that serves it.
                await asyncio.gather(*talks, return_exceptions=True)
                watching.cancel()
                await asyncio.gather(watching, return_exceptions=True)


async def _unless_stopped(wait: Coroutine[Any, Any, object], stop: asyncio.Event) -> None:
    """Await `wait`, or give it up as soon as `stop` is set."""
    waiting = asyncio.ensure_future(wait)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, stopping):
            task.cancel()
        await asyncio.gather(waiting, stopping, return_exceptions=True)
