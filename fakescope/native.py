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


def _output(text: str, finish: str, message_format: bool) -> dict[str, Any]:
    if message_format:
        return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}]}
    return {"text": text, "finish_reason": finish}


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


def body(
    request_id: str, *, text: str, finish: str, input_tokens: int, output_tokens: int, message_format: bool
) -> bytes:
    """A non-streaming 200 body."""
    payload = {
        "output": _output(text, finish, message_format),
        "usage": _usage(input_tokens, output_tokens),
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
    _so_far: str = ""

    def chunk(self, index: int, text: str, tokens: int, finish: str | None) -> bytes:
        if not self.incremental:
            self._so_far += text
            text = self._so_far
        payload = {
            "output": _output(text, finish or "null", self.message_format),
            "usage": _usage(self.input_tokens, tokens),
            "request_id": self.request_id,
        }
        return b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (index, _encode(payload))

    def error(self, index: int, error: ApiError) -> bytes:
        return error_frame(index, error, self.request_id)

    def tail(self, tokens: int) -> bytes:
        return b""
