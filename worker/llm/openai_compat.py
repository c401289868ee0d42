"""Any OpenAI-compatible chat endpoint (DashScope compatible mode, vLLM, Ollama, llama.cpp) over httpx.

Streams `POST {base}/chat/completions` with `stream_options.include_usage`; the stream is complete
at `data: [DONE]` (or at end of body once a finish reason was seen, for servers that omit [DONE]).
Images go as OpenAI `image_url` content parts (data URIs or URLs) before the message's text.
Servers that report no usage get local Qwen-tokenizer counts instead. Error bodies differ between
servers, so errors are classified by HTTP status first and by `error.code` when there is one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import msgspec

from worker.llm import errors, tokens
from worker.llm.base import (
    ChatMessage,
    Finished,
    GenerationParams,
    ProviderError,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
)


class OpenAICompatProvider:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,  # a seam for tests (httpx.MockTransport)
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        body = {
            "model": params.model,
            "messages": [_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **params.sampling(),
        }
        text: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] | None = None
        request_id = ""
        done = False
        try:
            async with self._client.stream("POST", "chat/completions", content=msgspec.json.encode(body)) as response:
                request_id = response.headers.get("x-request-id", "")
                if response.status_code != 200:
                    raise _http_error(response, await response.aread(), request_id)
                async for line in response.aiter_lines():
                    data = line[5:].strip() if line.startswith("data:") else None
                    if data is None or not data:
                        continue
                    if data == "[DONE]":
                        done = True
                        break
                    chunk = msgspec.json.decode(data)
                    if isinstance(chunk.get("error"), dict):
                        raise _error(None, chunk["error"], request_id)
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if reasoning := delta.get("reasoning_content"):
                            yield ReasoningDelta(reasoning)
                        if content := delta.get("content"):
                            text.append(content)
                            yield TextDelta(content)
                        finish = choice.get("finish_reason") or finish
                    usage = chunk.get("usage") or usage
        except httpx.TimeoutException as exc:
            raise errors.timeout(str(exc) or "read timeout") from exc
        except httpx.TransportError as exc:
            raise errors.connection(str(exc) or type(exc).__name__) from exc
        except (msgspec.DecodeError, AttributeError, TypeError) as exc:
            raise ProviderError("ServerError", f"malformed chunk: {exc}", retryable=True) from exc
        if finish is None or not (done or usage is not None):
            raise errors.incomplete(request_id)
        yield Finished(
            finish_reason=finish,
            input_tokens=int(usage["prompt_tokens"]) if usage else tokens.chat_tokens(m.content for m in messages),
            output_tokens=int(usage["completion_tokens"]) if usage else tokens.count("".join(text)),
            model=params.model,
            request_id=request_id,
            reasoning_tokens=((usage or {}).get("completion_tokens_details") or {}).get("reasoning_tokens"),
            cached_tokens=((usage or {}).get("prompt_tokens_details") or {}).get("cached_tokens"),
            image_tokens=((usage or {}).get("prompt_tokens_details") or {}).get("image_tokens"),
        )


def _message(message: ChatMessage) -> dict[str, Any]:
    """A message with images is a list of OpenAI content parts: `image_url` parts (a data URI or a
    URL), then its text; one without stays a plain string."""
    partial = (
        {"partial": True} if message.partial else {}
    )  # words to continue, as DashScope's compatible mode takes them
    if not message.images:
        return {"role": message.role, "content": message.content, **partial}
    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image}} for image in message.images]
    return {"role": message.role, "content": [*parts, {"type": "text", "text": message.content}], **partial}


def _error(
    status: int | None, error: dict[str, Any], request_id: str, retry_after: float | None = None
) -> ProviderError:
    return errors.classify(
        status,
        str(error.get("code") or ""),
        str(error.get("message") or ""),
        request_id=request_id,
        retry_after=retry_after,
    )


def _http_error(response: httpx.Response, raw: bytes, request_id: str) -> ProviderError:
    """OpenAI/DashScope `{"error": {...}}`, vLLM `{"object": "error", "message", "code"}`, or plain text."""
    try:
        payload = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        payload = {"message": raw.decode(errors="replace")[:500]}
    if not isinstance(payload, dict):
        payload = {"message": str(payload)[:500]}
    detail = payload["error"] if isinstance(payload.get("error"), dict) else payload
    request_id = str(payload.get("request_id") or request_id)
    return _error(response.status_code, detail, request_id, errors.retry_after(response.headers))
