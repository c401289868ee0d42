"""One chat completion: the request checked and turned into a question in the user's history,
then the worker's answer relayed as OpenAI's response or its exact SSE chunk stream.

The question goes the same way as any other: inserted under RLS (so admission reserves against
the plan, and a refusal stores nothing), answered by the worker through the exactly-once claim,
settled when final. The request's last message, a `user` one, is the question stored and asked. The
messages before it are its context, as in OpenAI's API: stored with the question (`question_contexts`)
and given to the model as the question's history, the question a root of its own in the key's
session of the day. A request that names its session (`X-ChatGalaxy-Session`) continues that stored
conversation instead: the worker builds its history from the session, as for the web app, and the
request's earlier messages are checked but not used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from api.compat.errors import OpenAIError, bad_request
from api.compat.keys import KeyCaller
from api.compat.turns import learned_session, read_answer
from api.database import CallerDatabase
from api.replies import FINAL_STATUSES, ReplyEvent
from api.reply_hub import Feed, ReplyHub

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
# A chunk that starts beyond the text known (the join came after the first chunks): the row is
# read every _CATCH_UP_EVERY s, at most _CATCH_UP_READS times, until it covers the gap (it is
# written a few times a second, WORKER_FLUSH_INTERVAL).
_CATCH_UP_EVERY = 0.05
_CATCH_UP_READS = 60
_POLL_WITHOUT_FEED = 0.25  # no channel joined: the row, written a few times a second, is read this often


@dataclass(frozen=True)
class Ask:
    """A checked request: what to store and how to answer."""

    model: str  # as the client named it
    requested_model: str | None  # stored on the question (None: the worker's default)
    role_slug: str | None
    question: str
    stream: bool
    include_usage: bool
    context: tuple[dict[str, str], ...] = ()  # the messages before the question: {role, content}
    parameters: dict[str, Any] = field(default_factory=dict)  # sampling parameters the request set


_CONTEXT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_CONTEXT_CHARS = 1_048_576  # as migrations/..._openai_requests_bring_their_context.sql checks


def _text_of(content: Any, at: int) -> str:
    """A message's text: a string, or the text parts of a list (other parts are refused)."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list) and content:
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise bad_request(
                    f"messages[{at}]: only text content parts are supported (got {kind!r}); send images and"
                    " files through the web app.",
                    "messages",
                    "unsupported_content",
                )
            texts.append(part["text"])
        text = "\n".join(texts)
    else:
        raise bad_request(f"messages[{at}].content must be a string or an array of text parts.", "messages")
    if "\x00" in text:
        raise bad_request("The message must not contain NUL characters.", "messages")
    return text


def _message(message: Any, at: int) -> dict[str, str]:
    if not isinstance(message, dict):
        raise bad_request(f"messages[{at}] must be an object.", "messages")
    role = message.get("role")
    if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
        raise bad_request(
            f"messages[{at}]: tools and function calls are not supported.", "messages", "unsupported_role"
        )
    if role not in _CONTEXT_ROLES:
        raise bad_request(
            f"messages[{at}].role must be one of system, developer, user, assistant.", "messages", "invalid_role"
        )
    return {"role": _CONTEXT_ROLES[role], "content": _text_of(message.get("content"), at)}


def _number(body: dict[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        span = f"an integer from {low:g} to {high:g}" if integer else f"a number from {low:g} to {high:g}"
        raise bad_request(f"{name} must be {span}.", name, "invalid_value")
    return value


def _unsupported(name: str, why: str) -> OpenAIError:
    return bad_request(f"{name}: {why}", name, "unsupported_parameter")


def parse_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters the model is asked with (over the role's settings), in DashScope's
    ranges; what we cannot honour is refused rather than ignored."""
    found: dict[str, Any] = {}
    temperature = _number(body, "temperature", 0, 2)
    if temperature is not None:
        found["temperature"] = min(temperature, 1.99)  # DashScope takes [0, 2)
    top_p = _number(body, "top_p", 0, 1)
    if top_p is not None:
        if top_p == 0:
            raise bad_request("top_p must be above 0.", "top_p", "invalid_value")
        found["top_p"] = top_p
    presence = _number(body, "presence_penalty", -2, 2)
    if presence is not None:
        found["presence_penalty"] = presence
    tokens = _number(body, "max_completion_tokens", 1, 1_000_000, integer=True)
    tokens = _number(body, "max_tokens", 1, 1_000_000, integer=True) if tokens is None else tokens
    if tokens is not None:
        found["max_tokens"] = tokens
    seed = _number(body, "seed", 0, 2**63 - 1, integer=True)
    if seed is not None:
        found["seed"] = seed
    # deep thinking as DashScope's OpenAI-compatible mode takes it (the plan decides: FeatureNotAllowed)
    thinking = body.get("enable_thinking")
    if thinking is not None and not isinstance(thinking, bool):
        raise bad_request("enable_thinking must be true or false.", "enable_thinking", "invalid_value")
    if thinking is not None:
        found["thinking"] = thinking
    budget = _number(body, "thinking_budget", 1, 1_000_000, integer=True)
    if budget is not None:
        found["thinking_budget"] = budget
    stop = body.get("stop")
    listed = isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) and s for s in stop)
    if not (stop is None or isinstance(stop, str) or listed):
        raise bad_request("stop must be a string or an array of at most 4 strings.", "stop", "invalid_value")
    if stop:  # an empty string or array stops nothing
        found["stop"] = stop
    if body.get("frequency_penalty") not in (None, 0):
        raise _unsupported("frequency_penalty", "Qwen has no frequency penalty; use presence_penalty.")
    if body.get("n") not in (None, 1):
        raise _unsupported("n", "one choice per request.")
    if body.get("tools") or body.get("functions"):
        raise _unsupported("tools", "tools and function calls are not supported.")
    if body.get("logprobs") or body.get("top_logprobs") is not None or body.get("logit_bias"):
        raise _unsupported("logprobs", "log probabilities and logit bias are not supported.")
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise _unsupported("response_format", "only plain text answers.")
    return found


def parse_request(body: Any, max_chars: int) -> Ask:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 100:
        raise bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > 1000:
        raise bad_request("messages must be a non-empty array of at most 1000 messages.", "messages")
    *context, last = [_message(message, at) for at, message in enumerate(messages)]
    if last["role"] != "user" or not last["content"].strip():
        raise bad_request("The last message must be a user message with text content.", "messages")
    question = last["content"]
    if len(question) > max_chars:
        raise bad_request(f"The last user message must be at most {max_chars} characters.", "messages")
    if sum(len(m["content"]) for m in context) > MAX_CONTEXT_CHARS:
        raise bad_request(
            f"The messages before the last must hold at most {MAX_CONTEXT_CHARS} characters.",
            "messages",
            "context_length_exceeded",
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool | None):
        raise bad_request("stream must be a boolean.", "stream")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    parameters = parse_parameters(body)
    if model.startswith("role:"):
        return Ask(model, None, model[5:], question, bool(stream), include_usage, tuple(context), parameters)
    return Ask(model, model, None, question, bool(stream), include_usage, tuple(context), parameters)


def _stored(row: dict[str, Any], column: str) -> str:
    return str(row.get(column) or "")


def usage_of(answer: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(answer.get("input_tokens") or 0), int(answer.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(answer: dict[str, Any]) -> str:
    return "length" if answer.get("finish_reason") == "length" else "stop"


def answer_error(answer: dict[str, Any]) -> OpenAIError:
    message = str(answer.get("error_message") or "The model could not answer.")
    return OpenAIError(
        502, message, "server_error", str(answer.get("error_code") or "answer_failed"), **{"x-should-retry": "false"}
    )


class Listening:
    """The answer stream's join, started as early as the session is known: before the question is
    stored when `likely_session` can tell it, else once the question's row names it."""

    def __init__(self, hub: ReplyHub, caller: KeyCaller, named_session: str | None) -> None:
        self._hub, self._caller, self._named = hub, caller, named_session
        self.session_id: str | None = None
        self.feed: Feed | None = None
        self.joining: asyncio.Task[Any] | None = None

    def start(self, session_id: str) -> None:
        feed = self._hub.feed(self._caller.user, session_id)
        self.session_id, self.feed, self.joining = session_id, feed, asyncio.create_task(feed.__aenter__())

    async def settle_on(self, session_id: str) -> bool:
        """Listen to `session_id` (leaving a join started on a wrong guess); True when that meant a new join."""
        learned_session(self._caller, self._named, session_id)
        if self.session_id == session_id:
            return False
        await self.abandon()
        self.start(session_id)
        return True

    async def abandon(self) -> None:
        if self.joining is not None:
            if not self.joining.done():
                self.joining.cancel()
            await asyncio.gather(self.joining, return_exceptions=True)
        if self.feed is not None:
            await self.feed.__aexit__(None, None, None)
        self.session_id, self.feed, self.joining = None, None, None


@dataclass
class _Track:
    """One kind of the answer's text (the answer's, or its thinking) and what the client was sent."""

    text: str = ""
    sent: str = ""
    broken: bool = False  # a gap the row did not cover: the rest comes from the final row


@dataclass
class _Text:
    """What is known of the answer's current attempt: its text and its thinking."""

    attempt: int = 0
    answer: _Track = field(default_factory=_Track)
    thinking: _Track = field(default_factory=_Track)


class Relay:
    """Waits for one answer on the session's feed and tells it the OpenAI way.

    The feed's join runs concurrently with the question's insert when the session was known in
    advance, else it starts once the question's row names the session; either way it overlaps
    the model's own time to first token. Nothing is missed if it finishes late: once joined, the
    row is read (an answer already final, or text already stored, is taken from it), and a chunk
    that starts beyond the text known (chunks carry their `offset`) is preceded by the gap, read
    from the row. A join that fails leaves the row, polled, as the only source."""

    def __init__(
        self,
        *,
        database: CallerDatabase,
        caller: KeyCaller,
        listening: Listening,
        question_id: str,
        ask: Ask,
        wait: float,
        poll: float,
    ) -> None:
        self.database, self.caller, self.listening = database, caller, listening
        self.question_id, self.ask = question_id, ask
        self.wait, self.poll = wait, poll
        self.id = "chatcmpl-" + question_id.replace("-", "")
        self.created = int(time.time())
        self._listening = False

    async def read(self) -> dict[str, Any]:
        """The question's session and its answer's row so far (`id` null before the claim)."""
        async with self.database.as_caller(self.caller.user, readonly=True) as conn:
            return await read_answer(conn, self.question_id)

    async def _joined(self) -> None:
        self._listening = False
        if self.listening.joining is None:
            return
        try:
            await self.listening.joining
            self._listening = True
        except Exception as exc:  # the question is stored: the row still brings the answer
            log.warning("answer stream not joined; reading the stored answer", exc_info=exc)

    async def ready(self) -> dict[str, Any]:
        """Joined to the question's session; the row as read AFTER the join, so every chunk
        after it reaches the feed and everything before it is in the row (or the next read)."""
        await self._joined()
        row = await self.read()
        session = row.get("session_id")
        if session and await self.listening.settle_on(str(session)):  # no guess, or a wrong one
            await self._joined()
            row = await self.read()
        return row

    async def _next(self, within: float) -> ReplyEvent | None:
        if self._listening and self.listening.feed is not None:
            return await self.listening.feed.next(within)
        await asyncio.sleep(min(within, _POLL_WITHOUT_FEED))
        return None

    async def close(self) -> None:
        await self.listening.abandon()

    async def final_answer(self) -> dict[str, Any] | None:
        """The final answer row, waking on the feed's events and polling as a fallback."""
        answer = await self.ready()
        deadline = time.monotonic() + self.wait
        while answer.get("status") not in FINAL_STATUSES:
            if (remaining := deadline - time.monotonic()) <= 0:
                return None
            event = await self._next(min(self.poll, remaining))
            if event is not None and not (event.final and event.reply_to in (None, self.question_id)):
                continue
            answer = await self.read()
        return answer

    def completion(self, answer: dict[str, Any]) -> dict[str, Any]:
        if answer.get("status") == "error":
            raise answer_error(answer)
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": str(answer.get("model") or self.ask.model),
            "choices": [
                {
                    "index": 0,
                    "message": self._message(answer),
                    "logprobs": None,
                    "finish_reason": finish_reason(answer),
                }
            ],
            "usage": usage_of(answer),
            "system_fingerprint": None,
        }

    @staticmethod
    def _message(answer: dict[str, Any]) -> dict[str, Any]:
        """The answer as OpenAI's message; a thinking model's thinking as `reasoning_content`, as
        DashScope's own OpenAI-compatible mode gives it."""
        message: dict[str, Any] = {"role": "assistant", "content": _stored(answer, "content"), "refusal": None}
        if thinking := _stored(answer, "reasoning"):
            message["reasoning_content"] = thinking
        return message

    def _chunk(self, delta: dict[str, Any], reason: str | None = None, model: str | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model or self.ask.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }
        if self.ask.include_usage:
            body["usage"] = None
        return b"data: " + _encoder.encode(body) + b"\n\n"

    async def chunks(self) -> AsyncIterator[bytes]:
        """OpenAI's SSE stream: a role chunk, content chunks as they arrive, a finish chunk,
        the usage chunk when asked for, then [DONE]. Errors after the start are `data: {error}`."""
        try:
            yield self._chunk({"role": "assistant", "content": "", "refusal": None})
            known = _Text()
            answer: dict[str, Any] | None = await self.ready()
            assert answer is not None
            if answer.get("status") not in FINAL_STATUSES:
                known.attempt = int(answer.get("attempts") or 0)
                known.answer.text, known.thinking.text = _stored(answer, "content"), _stored(answer, "reasoning")
                answer = None
                for piece in self._more(known):
                    yield piece
            deadline = time.monotonic() + self.wait
            while answer is None and (remaining := deadline - time.monotonic()) > 0:
                event = await self._next(min(self.poll, remaining))
                if event is not None and event.reply_to not in (None, self.question_id):
                    continue
                if event is not None and not event.final:
                    deadline = time.monotonic() + self.wait  # the answer is alive
                    await self._apply(known, event)
                    for piece in self._more(known):
                        yield piece
                    continue
                found = await self.read()
                if found.get("status") in FINAL_STATUSES:
                    answer = found
            async for piece in self._ending(answer, known):
                yield piece
        finally:
            await self.close()

    async def _apply(self, known: _Text, event: ReplyEvent) -> None:
        """Add a chunk to the attempt's text or thinking: a retake starts over, a duplicate adds
        nothing, a gap before the chunk is read from the row first."""
        if event.attempt < known.attempt:
            return  # a late chunk of an attempt since retaken
        if event.attempt > known.attempt:  # another worker retook the answer: its text restarts
            known.attempt = event.attempt
            for restarted in (known.answer, known.thinking):
                restarted.text, restarted.broken = "", False
        track = known.thinking if event.reasoning else known.answer
        if track.broken:
            return
        offset = len(track.text) if event.offset is None else event.offset
        if offset > len(track.text) and not await self._catch_up(known, event.reasoning, offset):
            track.broken = True
            return
        have = len(track.text)
        if offset + len(event.delta) > have:
            track.text += event.delta[have - offset :]

    async def _catch_up(self, known: _Text, reasoning: bool, offset: int) -> bool:
        track, column = (known.thinking, "reasoning") if reasoning else (known.answer, "content")
        for _ in range(_CATCH_UP_READS):
            row = await self.read()
            if row.get("id") is None or int(row.get("attempts") or 0) != known.attempt:
                return False
            text = _stored(row, column)
            if len(text) >= offset:
                track.text = text[:offset]
                return True
            await asyncio.sleep(_CATCH_UP_EVERY)
        return False

    def _more(self, known: _Text, model: str | None = None) -> list[bytes]:
        """A reasoning_content chunk, then a content chunk, with what extends what was sent."""
        pieces = []
        for track, field_name in ((known.thinking, "reasoning_content"), (known.answer, "content")):
            if len(track.text) > len(track.sent) and track.text.startswith(track.sent):
                pieces.append(self._chunk({field_name: track.text[len(track.sent) :]}, model=model))
                track.sent = track.text
        return pieces

    async def _ending(self, answer: dict[str, Any] | None, known: _Text) -> AsyncIterator[bytes]:
        if answer is None:
            error = OpenAIError(
                504, "The answer did not complete in time; it will appear in the history.", "server_error", "timeout"
            )
            yield b"data: " + _encoder.encode(error.body()) + b"\n\n"
            return
        if answer.get("status") == "error":
            yield b"data: " + _encoder.encode(answer_error(answer).body()) + b"\n\n"
            return
        model = str(answer.get("model") or self.ask.model)
        known.answer.text, known.thinking.text = _stored(answer, "content"), _stored(answer, "reasoning")
        for piece in self._more(known, model):
            yield piece
        yield self._chunk({}, finish_reason(answer), model=model)
        if self.ask.include_usage:
            usage = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": model,
                "system_fingerprint": None,
                "choices": [],
                "usage": usage_of(answer),
            }
            yield b"data: " + _encoder.encode(usage) + b"\n\n"
        yield b"data: [DONE]\n\n"
