"""Qwen through DashScope's native protocol, using the official SDK's asyncio API.

`AioGeneration.call(stream=True)` runs on aiohttp and yields chunks without blocking the loop (the
sync `Generation.call` would block on every chunk). We always send `incremental_output=True` and
`result_format="message"`, pass our own aiohttp session (connection pool sized for many concurrent
streams) and our base URL and key per call, so nothing global in the SDK is touched. The proxy the
environment asks for (HTTPS_PROXY, NO_PROXY...) is looked up once when the session is made: with
`trust_env` aiohttp would look it up in a thread on every call, a thread hop per answer.

The SDK's responses are dicts that also answer attribute access (`rsp.output`), but only after
Python's own lookup has failed: each such read builds and drops an AttributeError with its
message, ~3.4 µs against ~0.15 µs for `rsp["output"]`, and an answer's events took ~70 of them
a turn here. They are read by key: every key read is one the SDK always sets (None when absent).

The SDK reports HTTP and mid-stream errors as responses with a status code rather than raising;
transport failures surface as aiohttp exceptions. Both become `ProviderError`s here. Closing the
stream early closes the SDK's generators, which closes the HTTP response and its connection.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, cast

import aiohttp
import certifi
from dashscope import AioGeneration, AioMultiModalConversation
from dashscope.common.error import DashScopeException

from worker.llm import errors
from worker.llm.base import (
    ChatMessage,
    Finished,
    GenerationParams,
    ProviderError,
    Read,
    ReasoningDelta,
    Source,
    Sources,
    StreamEvent,
    TextDelta,
)
from worker.proxy import env_proxy

_NOT_FINAL = frozenset({"null", "", None})


class DashScopeProvider:
    def __init__(self, *, base_url: str, api_key: str, read_timeout: float, max_connections: int) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self.read_timeout = read_timeout  # the most seconds between two chunks
        self.max_connections = max_connections
        # Loading the CA bundle takes ~25 ms: done when the worker starts, not in its first answer.
        self._tls = ssl.create_default_context(cafile=certifi.where())
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """One pooled session for every call, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=self._tls)
            proxy, proxy_auth = env_proxy(self.base_url)
            self._session = aiohttp.ClientSession(connector=connector, proxy=proxy, proxy_auth=proxy_auth)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        if not self._api_key:
            raise ProviderError("InvalidApiKey", "DASHSCOPE_API_KEY is not set", status=401)
        chunks = await self._open(messages, params)
        final: Finished | None = None
        request_id = ""
        sourced = False
        # the model's count of the prompt, said once (Read): an image prompt's images, and a search's
        # results, which the model reads with it (a text prompt's too: until 12-05 only an image
        # prompt's was said, so a search answer stopped mid-stream was charged the prompt without them)
        counted = False
        try:
            async for rsp in chunks:
                request_id = rsp["request_id"] or request_id
                if rsp["status_code"] != 200:
                    raise errors.classify(
                        rsp["status_code"],
                        rsp["code"],
                        rsp["message"],
                        request_id=request_id,
                        retry_after=errors.retry_after(rsp["headers"] or {}),
                    )
                output = rsp["output"]
                if not sourced and (found := _sources(output)) is not None:
                    sourced = True
                    yield found
                if not counted and (read := _read(rsp["usage"])) is not None:
                    counted = True
                    yield read
                choice = output["choices"][0]
                message = choice["message"] or {}
                if reasoning := message.get("reasoning_content"):
                    yield ReasoningDelta(reasoning)
                if content := _text(message.get("content")):
                    yield TextDelta(content)
                if choice["finish_reason"] not in _NOT_FINAL:
                    final = _finished(rsp, choice["finish_reason"], params.model, request_id)
        except TimeoutError as exc:  # aiohttp's socket read timeout is one
            raise errors.timeout(f"no data within {self.read_timeout} s") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise errors.connection(str(exc) or type(exc).__name__) from exc
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError, IndexError) as exc:  # a malformed 200 body
            raise ProviderError("ServerError", f"malformed response: {exc}", retryable=True) from exc
        finally:
            await chunks.aclose()
        if final is None:
            raise errors.incomplete(request_id)
        yield final

    async def _open(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Any, None]:
        api: Any = _MultiModal if params.multimodal else AioGeneration
        try:
            result = await api.call(
                model=params.model,
                messages=_Messages(_message(m, params.multimodal) for m in messages),
                api_key=self._api_key,
                base_address=self.base_url,
                session=self._http(),
                request_timeout=self.read_timeout,
                stream=True,
                incremental_output=True,
                result_format="message",
                **params.sampling(),
            )
        except DashScopeException as exc:  # raised before any I/O: no key, no model, no input
            raise ProviderError("InvalidRequest", str(exc)) from exc
        # The SDK's stub says Generator; with stream=True the runtime object is an async generator.
        return cast(AsyncGenerator[Any, None], result)


class _MultiModal(AioMultiModalConversation):
    """The multimodal endpoint without the SDK's upload of local files. Before each call the SDK reads
    every `text`, `image`, `video` and `audio` part of a user message that names an existing file of
    this machine (a path, `~/...` or `file://...`) and uploads it to DashScope for the model to read,
    in place of the part: a question of exactly `/proc/self/environ` would have sent the worker's
    environment, keys included, to the model. Our parts are the user's own text and images as data
    or https URLs, never local files, so nothing is ever uploaded."""

    @classmethod
    def _preprocess_messages(cls, model: str, messages: list[dict[str, Any]], api_key: str) -> bool:
        return False


class _Messages(list[dict[str, Any]]):
    """The messages of one call. The SDK deep-copies the list it is given, so that its preprocessing
    (the multimodal endpoint rewrites file parts) never changes a caller's; every dict here is made
    for this call alone, so the copy is a new list of the same dicts. Python's generic deep copy is
    ~2 µs a message on every turn's path, and a text message stays a plain dict of strings, which
    the cyclic collector never tracks (an object of our own per message would be ~50 more a turn
    for every young collection to walk)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[dict[str, Any]]:
        return list(self)


def _message(message: ChatMessage, multimodal: bool) -> dict[str, Any]:
    """Text endpoint: content is a string. Multimodal: a list of parts, images first, system included."""
    partial = {"partial": True} if message.partial else {}  # DashScope's partial mode: continue these words
    if not multimodal:
        return {"role": message.role, "content": message.content, **partial}
    parts: list[dict[str, str]] = [{"image": image} for image in message.images]
    return {"role": message.role, "content": [*parts, {"text": message.content}], **partial}


def _text(content: Any) -> str:
    """A message's text: a string on the text endpoint, a list of `{"text": ...}` parts on the multimodal one."""
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content if isinstance(part, dict))
    return content or ""


def _sources(output: Any) -> Sources | None:
    """The search results of `output.search_info`, once they arrive (the first event, with prepended results)."""
    info = output.get("search_info") or {}
    results = info.get("search_results") or []
    items = tuple(
        Source(int(r["index"]), str(r.get("title") or ""), str(r["url"]), str(r.get("site_name") or ""))
        for r in results
        if isinstance(r, dict) and isinstance(r.get("index"), int) and isinstance(r.get("url"), str)
    )
    return Sources(items) if items else None


def _read(usage: Any) -> Read | None:
    """The model's count of the prompt and its images, as an event's usage says them (None: it says none)."""
    spent = usage.get("input_tokens") if usage else None
    if not isinstance(spent, int):
        return None
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    images = usage.get("image_tokens", details.get("image_tokens"))
    return Read(spent, images if isinstance(images, int) else None)


def _finished(rsp: Any, finish_reason: str, model: str, request_id: str) -> Finished:
    usage = rsp["usage"]
    output_details = usage.get("output_tokens_details") or {}
    input_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    search = (usage.get("plugins") or {}).get("search") or {}
    image_tokens = usage.get("image_tokens", input_details.get("image_tokens"))
    return Finished(
        finish_reason=finish_reason,
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        model=model,
        request_id=request_id,
        reasoning_tokens=output_details.get("reasoning_tokens"),
        cached_tokens=input_details.get("cached_tokens"),
        search_calls=search.get("count"),
        image_tokens=image_tokens,
    )
