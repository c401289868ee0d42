"""DashScope's native text-generation protocol: request shape, JSON bodies and SSE frames (spec §2-§3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from fakescope.errors import ApiError, invalid_parameter
from fakescope.validate import Rejected

SSE_TYPE = "text/event-stream;charset=UTF-8"
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class NativeRequest:
    model: Any
    messages: Any
    params: dict[str, Any]
    stream: bool
    incremental: bool
    message_format: bool  # result_format "message" (else "text")


def parse(body: Any, request: web.BaseRequest) -> NativeRequest:
    if not isinstance(body, dict):
        raise Rejected(invalid_parameter("Request body should be a JSON object."))
    params = body.get("parameters") or {}
    data = body.get("input") or {}
    if not isinstance(params, dict) or not isinstance(data, dict):
        raise Rejected(invalid_parameter("Fields input and parameters should be objects."))
    messages = data.get("messages")
    prompt = data.get("prompt")
    if isinstance(prompt, str) and prompt:
        messages = [*(messages if isinstance(messages, list) else []), {"role": "user", "content": prompt}]
    result_format = params.get("result_format", "text")
    if result_format not in ("text", "message"):
        raise Rejected(invalid_parameter("The result_format parameter must be text or message."))
    stream = request.headers.get(
        "X-DashScope-SSE", ""
    ).lower() == "enable" or "text/event-stream" in request.headers.get("Accept", "")
    return NativeRequest(
        model=body.get("model"),
        messages=messages,
        params=params,
        stream=stream,
        incremental=bool(params.get("incremental_output", False)),
        message_format=result_format == "message",
    )


def _output(
    text: str, finish: str, message_format: bool, reasoning: str | None = None, parts: bool = False
) -> dict[str, Any]:
    if message_format or parts:
        message: dict[str, Any] = {"role": "assistant", "content": [{"text": text}] if parts else text}
        if reasoning is not None:  # thinking on: every event carries both fields, one of them empty
            message["reasoning_content"] = reasoning
        return {"choices": [{"message": message, "finish_reason": finish}]}
    return {"text": text, "finish_reason": finish}


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


@dataclass(frozen=True, slots=True)
class Extras:
    """What a call gets beyond text (fakescope.features): all empty for a plain call."""

    thinking: bool = False
    sources: tuple[dict[str, Any], ...] = ()
    search: bool = False
    search_strategy: str = "turbo"
    cached_tokens: int = 0
    image_tokens: int | None = None  # multimodal calls: always reported, part of input_tokens
    parts: bool = False  # multimodal: message content is a list of {"text": ...}

    def usage(self, usage: dict[str, Any], reasoning_tokens: int) -> dict[str, Any]:
        if self.thinking:
            usage["output_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.search:
            usage["plugins"] = {"search": {"count": 1, "strategy": self.search_strategy}}
        if self.image_tokens is not None:
            usage["image_tokens"] = self.image_tokens
        return usage


def body(
    request_id: str,
    *,
    text: str,
    finish: str,
    input_tokens: int,
    output_tokens: int,
    message_format: bool,
    extras: Extras = Extras(),
) -> bytes:
    """A non-streaming 200 body."""
    output = _output(text, finish, message_format, parts=extras.parts)
    if extras.sources:
        output["search_info"] = {"search_results": list(extras.sources)}
    payload = {
        "output": output,
        "usage": extras.usage(_usage(input_tokens, output_tokens), 0),
        "request_id": request_id,
    }
    return _encode(payload)


def error_frame(index: int, error: ApiError, request_id: str) -> bytes:
    data = _encode(error.native(request_id))
    return b"id:%d\nevent:error\n:HTTP_STATUS/%d\ndata:%s\n\n" % (index, error.status, data)


@dataclass(slots=True)
class NativeFrames:
    """SSE events: `id:N`, `event:result`, the status comment, one compact `data:` line, blank line."""

    request_id: str
    input_tokens: int
    incremental: bool
    message_format: bool
    extras: Extras = Extras()
    _so_far: str = ""
    _reasoning_tokens: int = 0

    def chunk(self, index: int, text: str, tokens: int, finish: str | None, reasoning: bool = False) -> bytes:
        thought: str | None = None
        if reasoning:
            self._reasoning_tokens = tokens
            thought, text = text, ""
        elif self.extras.thinking:
            thought = ""
        if not self.incremental:
            self._so_far += text
            text = self._so_far
        output = _output(text, finish or "null", self.message_format, thought, self.extras.parts)
        if self.extras.sources:  # the results in the first event, empty lists after it
            results = list(self.extras.sources) if index == 1 else []
            output["search_info"] = {"extra_tool_info": [], "search_results": results}
        payload = {
            "output": output,
            "usage": self.extras.usage(_usage(self.input_tokens, tokens), self._reasoning_tokens),
            "request_id": self.request_id,
        }
        return b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (index, _encode(payload))

    def error(self, index: int, error: ApiError) -> bytes:
        return error_frame(index, error, self.request_id)

    def tail(self, tokens: int) -> bytes:
        return b""
