"""DashScope's OpenAI-compatible mode: chat completions (JSON or `data:` chunks ending in [DONE]) and models.

Thinking, search and the context cache as in the native protocol (fakescope.features), in compatible
mode's shape: reasoning as `delta.reasoning_content` chunks before the answer's `delta.content`, and
the final usage chunk's `completion_tokens_details.reasoning_tokens` and
`prompt_tokens_details.cached_tokens` (../shared/specs/dashscope-features.md §A1, §A6)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import msgspec

from fakescope.errors import ApiError, invalid_parameter
from fakescope.validate import MODELS, Rejected

_encode = msgspec.json.Encoder().encode
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class CompatRequest:
    model: Any
    messages: Any
    params: dict[str, Any]
    stream: bool
    include_usage: bool


def parse(body: Any) -> CompatRequest:
    if not isinstance(body, dict):
        raise Rejected(invalid_parameter("Request body should be a JSON object."))
    options = body.get("stream_options") or {}
    return CompatRequest(
        model=body.get("model"),
        messages=body.get("messages"),
        params=body,
        stream=bool(body.get("stream", False)),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage", False)),
    )


def _usage(
    input_tokens: int, output_tokens: int, *, reasoning_tokens: int | None = None, cached_tokens: int = 0
) -> dict[str, Any]:
    """OpenAI's usage, with DashScope's details as its compatible mode reports them: the thinking share
    of `completion_tokens` (when thinking) and the input its context cache served (when any)."""
    usage: dict[str, Any] = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    if cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return usage


def body(
    request_id: str,
    *,
    model: str,
    text: str,
    finish: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
) -> bytes:
    payload = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}
        ],
        "usage": _usage(input_tokens, output_tokens, cached_tokens=cached_tokens),
    }
    return _encode(payload)


def models() -> bytes:
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "system"} for name in MODELS]
    return _encode({"object": "list", "data": data})


@dataclass(slots=True)
class CompatFrames:
    request_id: str
    model: str
    input_tokens: int
    include_usage: bool
    created: int
    thinking: bool = False  # reasoning deltas first, counted apart in the usage
    cached_tokens: int = 0
    _reasoning_tokens: int = 0

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> bytes:
        payload = {
            "id": f"chatcmpl-{self.request_id}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        }
        return b"data: %s\n\n" % _encode(payload)

    def chunk(self, index: int, text: str, tokens: int, finish: str | None, reasoning: bool = False) -> bytes:
        if reasoning:
            self._reasoning_tokens = tokens
        key = "reasoning_content" if reasoning else "content"
        delta = {"role": "assistant", key: text} if index == 1 else {key: text}
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], None)

    def error(self, index: int, error: ApiError) -> bytes:
        return b"data: %s\n\n" % _encode(error.compat(self.request_id))

    def tail(self, tokens: int) -> bytes:
        if not self.include_usage:
            return DONE
        reasoning = self._reasoning_tokens if self.thinking else None
        usage = _usage(self.input_tokens, tokens, reasoning_tokens=reasoning, cached_tokens=self.cached_tokens)
        return self._chunk([], usage) + DONE
