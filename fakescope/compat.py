"""DashScope's OpenAI-compatible mode: chat completions (JSON or `data:` chunks ending in [DONE]) and models."""

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


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def body(request_id: str, *, model: str, text: str, finish: str, input_tokens: int, output_tokens: int) -> bytes:
    payload = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}
        ],
        "usage": _usage(input_tokens, output_tokens),
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

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, int] | None) -> bytes:
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
        key = "reasoning_content" if reasoning else "content"
        delta = {"role": "assistant", key: text} if index == 1 else {key: text}
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], None)

    def error(self, index: int, error: ApiError) -> bytes:
        return b"data: %s\n\n" % _encode(error.compat(self.request_id))

    def tail(self, tokens: int) -> bytes:
        if not self.include_usage:
            return DONE
        return self._chunk([], _usage(self.input_tokens, tokens)) + DONE
