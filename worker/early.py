"""Early calls: a follow-up question's model call starts the moment its Realtime event is heard,
alongside its claim, instead of after it.

The claim (store.py) is a round trip to Postgres that inserts the answer row and walks the history:
on the first token's path, and a model then takes its own time to a first token anyway. For a
follow-up in a conversation this worker answered last, everything its prompt is built from is
known when the question is heard: the previous turn's claim (role, session settings, history), that
turn's question and completed answer, and the new question's text in the event. So the call starts
then, with the prompt the claim is expected to give, and runs while the question is claimed.

The claim decides. Its turn builds the prompt from the claim as always (claim_prompt.py) and takes
the early call only if that call was sent exactly this prompt, messages and parameters alike;
otherwise (a role or model changed, a message deleted or edited, another worker's answer in between)
the early call is closed unread and the turn calls the model itself. Nothing of an early call is
delivered or written before its question is claimed here, so answers stay exactly-once; a wrong
guess costs one model call closed before it was read (`worker_early_calls_total{outcome}`).

With several workers, all hear every question and race to claim it, and only the one that answered
the session's last turn can call early: it would lose the race as often as not, and its call with
it. So a worker that sees other workers on the listening channel (Realtime presence, listener.py)
and did not call early for a question that some worker may have (`may_be_called_early`) claims it
only WORKER_CLAIM_DEFER seconds later (dispatch.py), by when the caller has claimed it; if that
worker is gone, the question is answered that much later, by another.

Guessed only where it is likely right: the question's parent is the answer this worker completed
last in the session (so another worker, which did not answer it, never guesses for it), the
question carries no files, and the worker has a slot free to claim it at once; at most
WORKER_EARLY_CALLS wait at once (0: never). The guess keeps the previous turn's role and model: a
question that names others (rare: a role switched mid-session, another model asked for through the
OpenAI-compatible API) is a discarded early call, which costs less than reading those two columns
from every question's event would (realtime-py validates each column of each event: ~15 µs
apiece). A call its claim never takes (the question was claimed by another worker, or not at all)
is closed when the claim round reports it missed, or after `_UNTAKEN_S` at the latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from core.settings import LlmSettings
from worker.claim_prompt import claim_prompt
from worker.histories import Histories, HistoryItem
from worker.kept import Kept
from worker.llm import Provider, StreamEvent
from worker.models import Catalog
from worker.prompt import Prompt
from worker.store import Claim

log = logging.getLogger(__name__)

_UNTAKEN_S = 10.0  # an early call no claim took by then is closed
_ANSWERED_OVERHEAD = 200  # bytes an entry costs beyond its two texts, roughly


@dataclass(frozen=True, slots=True)
class Answered:
    """A session's last turn this worker completed: what its next question's prompt is built from."""

    claim: Claim
    answer: str


def _size(answered: Answered) -> int:
    claim = answered.claim
    return len(answered.answer) + len(claim.question) + len(claim.system_prompt or "") + _ANSWERED_OVERHEAD


def may_be_called_early(record: Mapping[str, Any]) -> bool:
    """Whether some worker may have called the model for this new row already: a question with no
    files, under a message (the worker that answered it may know its prompt)."""
    return bool(
        record.get("message_type") == "user"
        and not record.get("attachments")
        and record.get("id")
        and record.get("session_id")
        and record.get("parent_id")
    )


class EarlyCall:
    """One model call started before its claim, its first event read as soon as it comes."""

    def __init__(self, prompt: Prompt, events: AsyncIterator[StreamEvent]) -> None:
        self.prompt = prompt
        self._events = events
        self._first: asyncio.Future[StreamEvent] = asyncio.ensure_future(anext(events))

    async def stream(self) -> AsyncGenerator[StreamEvent, None]:
        """The call's events, from its first; closing this closes the call."""
        try:
            try:
                yield await self._first
            except StopAsyncIteration:
                return
            async for event in self._events:
                yield event
        finally:
            await self.close()

    async def close(self) -> None:
        if not self._first.done():
            self._first.cancel()
        await asyncio.wait([self._first])
        if not self._first.cancelled():
            self._first.exception()  # retrieved: a call closed unread may well have failed
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()


class EarlyCalls:
    def __init__(
        self,
        provider: Provider,
        histories: Histories,
        llm: LlmSettings,
        catalog: Catalog,
        outcomes: Counter,
        *,
        limit: int,
        max_bytes: int,
        room: Callable[[], bool] = lambda: True,
    ) -> None:
        """`room`: whether a question heard now would be claimed at once; when it would wait for a
        free slot, its model call waits with it (a call left open that long may never be taken)."""
        self._provider = provider
        self._histories = histories
        self._llm = llm
        self._catalog = catalog
        self._outcomes = outcomes
        self._limit = limit
        self._room = room
        self._answered: Kept[str, Answered] = Kept(max_bytes, _size)
        self._calls: dict[str, tuple[EarlyCall, asyncio.TimerHandle]] = {}  # by question id, with its expiry
        self._closing: set[asyncio.Task[None]] = set()

    def answered(self, claim: Claim, answer: str) -> None:
        """`claim`'s turn completed with `answer`, about to be saved: told before the row is final,
        so a follow-up asked the moment it is (a script's next request) finds it here; `unsaved`
        takes it back if the write fails. Its history is not kept here: the next question's comes
        from the history the claim kept (Histories.following). Not after a question with files:
        they are read again for every later prompt; nor after an OpenAI-compatible request's own
        context or parameters (the question under its answer gets the request's messages from its
        claim, which names them on the request's question; the guess has only this claim)."""
        request = claim.context is not None or claim.parameters
        if self._limit > 0 and claim.answer_no == 1 and not claim.attachments and not request:
            self._answered.put(claim.session_id, Answered(dataclasses.replace(claim, history=()), answer))

    def unsaved(self, claim: Claim) -> None:
        """`claim`'s answer was not saved after all (its lease was lost): nothing to guess from."""
        last = self._answered.get(claim.session_id)
        if last is not None and last.claim.id == claim.id:
            self._answered.drop(claim.session_id)

    def heard(self, record: Mapping[str, Any]) -> bool:
        """A question's Realtime event: start its model call now if its prompt can be told (True)."""
        if len(self._calls) >= self._limit or not may_be_called_early(record) or not self._room():
            return False
        question_id, session_id = record["id"], record["session_id"]
        last = self._answered.get(session_id)
        if last is None or question_id in self._calls or record["parent_id"] != last.claim.id:
            return False
        previous = last.claim
        history = self._histories.following(
            session_id,
            HistoryItem("user", previous.question, previous.reply_to),
            HistoryItem("assistant", last.answer, previous.id),
        )
        if history is None:
            return False
        expected = dataclasses.replace(
            previous,
            id="",
            reply_to=question_id,
            attempts=1,
            question=str(record.get("content") or ""),
            history=history,
            history_cut=len(history) >= self._histories.limit,
            web_search=bool(record.get("web_search")),
        )
        prompt = claim_prompt(expected, self._llm, self._catalog)
        call = EarlyCall(prompt, self._provider.stream(prompt.messages, prompt.params))
        expiry = asyncio.get_running_loop().call_later(_UNTAKEN_S, self.drop, [question_id])
        self._calls[question_id] = (call, expiry)
        self._outcomes.labels("started").inc()
        return True

    def take(self, claim: Claim, prompt: Prompt | None) -> EarlyCall | None:
        """The early call of `claim`'s question if it was sent `prompt`; any other is closed."""
        entry = self._calls.pop(claim.reply_to, None)
        if entry is None:
            return None
        call, expiry = entry
        expiry.cancel()
        if prompt is not None and claim.answer_no == 1 and call.prompt == prompt:
            self._outcomes.labels("taken").inc()
            return call
        self._outcomes.labels("discarded").inc()
        self._close(call)
        return None

    def drop(self, question_ids: list[str]) -> None:
        """These questions were not claimed here: their early calls are closed."""
        for question_id in question_ids:
            entry = self._calls.pop(question_id, None)
            if entry is not None:
                entry[1].cancel()
                self._outcomes.labels("unclaimed").inc()
                self._close(entry[0])

    def _close(self, call: EarlyCall) -> None:
        task = asyncio.ensure_future(call.close())
        self._closing.add(task)
        task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.debug("an early call failed to close", extra={"error": repr(error)})

    async def aclose(self) -> None:
        """Close every call still waiting (the worker stops)."""
        self.drop(list(self._calls))
        if self._closing:
            with contextlib.suppress(Exception):
                await asyncio.wait(set(self._closing))
