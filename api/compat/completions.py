"""One chat completion: the request checked and turned into a question in the user's history,
then the worker's answer relayed as OpenAI's response or its exact SSE chunk stream.

The question goes the same way as any other: inserted under RLS (so admission reserves against
the plan, and a refusal stores nothing), answered by the worker through the exactly-once claim,
settled when final. Only the last `user` message of the request is stored and asked; the worker
builds the context from the session's stored history, as for the web app.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from postgrest import AsyncPostgrestClient

from api.compat.errors import OpenAIError, bad_request, model_not_found
from api.compat.keys import KeyCaller
from api.conversation import find_role, find_session
from api.errors import RoleNotFound, SessionNotFound
from api.replies import FINAL_STATUSES, ReplyFeed
from api.upstream import call, rows

ANSWER_COLUMNS = "id,content,status,model,input_tokens,output_tokens,finish_reason,error_code,error_message"
SESSION_HEADER = "x-chatgalaxy-session"
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Ask:
    """A checked request: what to store and how to answer."""

    model: str  # as the client named it
    requested_model: str | None  # stored on the question (None: the worker's default)
    role_slug: str | None
    question: str
    stream: bool
    include_usage: bool


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    return None


def parse_request(body: Any, max_chars: int) -> Ask:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 100:
        raise bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > 1000:
        raise bad_request("messages must be a non-empty array of at most 1000 messages.", "messages")
    question = None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            question = _text_of(message.get("content"))
            break
    if question is None or not question.strip():
        raise bad_request("messages must contain a user message with text content.", "messages")
    if len(question) > max_chars:
        raise bad_request(f"The last user message must be at most {max_chars} characters.", "messages")
    if "\x00" in question:
        raise bad_request("The message must not contain NUL characters.", "messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool | None):
        raise bad_request("stream must be a boolean.", "stream")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    if model.startswith("role:"):
        return Ask(model, None, model[5:], question, bool(stream), include_usage)
    return Ask(model, model, None, question, bool(stream), include_usage)


async def check_model(rest: AsyncPostgrestClient, ask: Ask) -> str | None:
    """The role slug to store (for `role:<slug>`), after checking the model or role exists."""
    if ask.role_slug is not None:
        if not ask.role_slug:
            raise model_not_found(ask.model)
        try:
            role = await find_role(rest, ask.role_slug)
        except RoleNotFound as exc:
            raise model_not_found(ask.model) from exc
        return str(role["slug"])
    found = await call(rest.from_("models").select("id").eq("id", ask.model).execute())
    if not rows(found.data):
        raise model_not_found(ask.model)
    return None


async def session_for(rest: AsyncPostgrestClient, caller: KeyCaller, named: str | None) -> str:
    """The session named by the header (one of the user's), else the key's session of the day."""
    if named:
        try:
            return str((await find_session(rest, named))["id"])
        except SessionNotFound as exc:
            raise OpenAIError(
                404, "No such chat session.", "invalid_request_error", "session_not_found", SESSION_HEADER
            ) from exc
    day = datetime.now(UTC).date().isoformat()
    query = rest.from_("chat_sessions").select("id").eq("api_key_id", caller.key_id).eq("api_day", day)
    found = rows((await call(query.execute())).data)
    if not found:
        title = f"API · {caller.key_name} · {day}"[:200]
        payload = {"title": title, "api_key_id": caller.key_id, "api_day": day}
        await call(
            rest.from_("chat_sessions")
            .upsert(payload, on_conflict="api_key_id,api_day", ignore_duplicates=True, returning="minimal")  # type: ignore[arg-type]
            .execute()
        )
        found = rows((await call(query.execute())).data)
    if not found:
        raise OpenAIError(500, "Could not open the API session.", "server_error", None)
    return str(found[0]["id"])


async def store_question(rest: AsyncPostgrestClient, session_id: str, ask: Ask, role_slug: str | None) -> str:
    payload: dict[str, Any] = {"session_id": session_id, "message_type": "user", "content": ask.question}
    if role_slug:
        payload["role_id"] = role_slug
    if ask.requested_model:
        payload["model"] = ask.requested_model
    response = await call(rest.from_("chat_messages").insert(payload).execute())
    return str(rows(response.data)[0]["id"])


async def read_answer(rest: AsyncPostgrestClient, question_id: str) -> dict[str, Any] | None:
    found = rows(
        (await call(rest.from_("chat_messages").select(ANSWER_COLUMNS).eq("reply_to", question_id).execute())).data
    )
    return found[0] if found else None


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


class Relay:
    """Waits for one answer on the session's feed and tells it the OpenAI way."""

    def __init__(
        self, rest: AsyncPostgrestClient, feed: ReplyFeed, question_id: str, ask: Ask, *, wait: float, poll: float
    ) -> None:
        self.rest, self.feed, self.question_id, self.ask = rest, feed, question_id, ask
        self.wait, self.poll = wait, poll
        self.id = "chatcmpl-" + question_id.replace("-", "")
        self.created = int(time.time())

    async def final_answer(self) -> dict[str, Any] | None:
        """The final answer row, waking on the feed's events and polling as a fallback."""
        deadline = time.monotonic() + self.wait
        while (remaining := deadline - time.monotonic()) > 0:
            event = await self.feed.next(min(self.poll, remaining))
            if event is not None and not (event.final and event.reply_to in (None, self.question_id)):
                continue
            answer = await read_answer(self.rest, self.question_id)
            if answer is not None and answer.get("status") in FINAL_STATUSES:
                return answer
        return None

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
                    "message": {"role": "assistant", "content": str(answer.get("content") or ""), "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason(answer),
                }
            ],
            "usage": usage_of(answer),
            "system_fingerprint": None,
        }

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
            sent = ""
            attempt, expected, attempt_text, broken = 1, 1, "", False
            answer: dict[str, Any] | None = None
            deadline = time.monotonic() + self.wait
            while answer is None and (remaining := deadline - time.monotonic()) > 0:
                event = await self.feed.next(min(self.poll, remaining))
                if event is not None and event.reply_to not in (None, self.question_id):
                    continue
                if event is not None and not event.final:
                    deadline = time.monotonic() + self.wait  # the answer is alive
                    if event.attempt > attempt:  # another worker retook the answer: it restarts
                        attempt, expected, attempt_text, broken = event.attempt, 1, "", False
                    if event.attempt < attempt or broken:
                        continue
                    if event.seq is not None and event.seq != expected:
                        broken = True  # a lost chunk: the stored row fills the gap at the end
                        continue
                    expected += 1
                    attempt_text += event.delta
                    if len(attempt_text) > len(sent) and attempt_text.startswith(sent):
                        yield self._chunk({"content": attempt_text[len(sent) :]})
                        sent = attempt_text
                    continue
                found = await read_answer(self.rest, self.question_id)
                if found is not None and found.get("status") in FINAL_STATUSES:
                    answer = found
            async for piece in self._ending(answer, sent):
                yield piece
        finally:
            await self.feed.__aexit__(None, None, None)

    async def _ending(self, answer: dict[str, Any] | None, sent: str) -> AsyncIterator[bytes]:
        if answer is None:
            error = OpenAIError(
                504, "The answer did not complete in time; it will appear in the history.", "server_error", "timeout"
            )
            yield b"data: " + _encoder.encode(error.body()) + b"\n\n"
            return
        if answer.get("status") == "error":
            yield b"data: " + _encoder.encode(answer_error(answer).body()) + b"\n\n"
            return
        content = str(answer.get("content") or "")
        model = str(answer.get("model") or self.ask.model)
        if len(content) > len(sent) and content.startswith(sent):
            yield self._chunk({"content": content[len(sent) :]}, model=model)
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
