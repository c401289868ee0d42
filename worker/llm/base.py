"""The seam between the worker and any LLM: messages in, a stream of deltas and one `Finished` out.

A stream carries `ReasoningDelta`s (the model's thinking, when asked for) before the answer's
`TextDelta`s, at most one `Sources` (web search results, as the answer numbers them), then exactly
one `Finished` with the usage, reasoning and cached tokens counted apart.

Implementations: `DashScopeProvider` (native protocol through the official SDK) and
`OpenAICompatProvider` (any OpenAI-compatible endpoint). Neither retries: the worker decides, using
`ProviderError.retryable` and `retry_after`, and only before it has delivered a first chunk.

Exceptions: every failure leaves `stream()` as a `ProviderError` with a stable CamelCase code
(listed in `CODES`); a stream that ends without a terminal finish reason is `IncompleteStream`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol

import msgspec

from core.webaddress import is_web_address

Role = Literal["system", "user", "assistant"]

# Our codes and what they mean; `retryable` is decided per error (e.g. free-quota throttling is not).
CODES = {
    "InvalidApiKey": "the key is missing, wrong, or for another region",
    "AccessDenied": "the account or workspace may not use this model",
    "ModelNotFound": "the model name is unknown to the endpoint",
    "InvalidRequest": "a parameter is out of range or the request is malformed",
    "InputTooLong": "the prompt exceeds the model's input limit",
    "ImageUnreachable": "the model could not download an image the request links to",
    "ContentFiltered": "input or output failed content moderation",
    "QuotaExhausted": "free quota used up or billing problem; needs a human",
    "RateLimited": "request or token rate limit; retry after a pause",
    "ServerError": "the service failed; retry",
    "ServiceUnavailable": "the model is overloaded or unavailable; retry",
    "Timeout": "no byte arrived within the read timeout",
    "ConnectionError": "the connection failed or was reset",
    "IncompleteStream": "the stream ended without a finish reason",
}


class ChatMessage(msgspec.Struct, frozen=True, gc=False):  # strings only: never in a cycle (worker/store.py)
    role: Role
    content: str
    images: tuple[str, ...] = ()  # data URIs or URLs the model reads (multimodal endpoint only)
    partial: bool = False  # the last message, an assistant's words the answer continues (partial mode)


class GenerationParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Sampling parameters; None means "the model's default" and is not sent."""

    model: str
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    enable_search: bool | None = None
    search_options: dict[str, Any] | None = None  # with enable_search: sources and citations
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    response_format: dict[str, str] | None = None  # {"type": "json_object"}: DashScope's JSON mode
    multimodal: bool = False  # answer through the multimodal endpoint (images, or a model that needs it)

    def sampling(self) -> dict[str, Any]:
        """The parameters to send besides `model`."""
        values = msgspec.to_builtins(self)
        values.pop("model")
        values.pop("multimodal", None)
        return values  # type: ignore[no-any-return]


class TextDelta(msgspec.Struct, frozen=True):
    text: str


class ReasoningDelta(msgspec.Struct, frozen=True):
    text: str


class Source(msgspec.Struct, frozen=True):
    """One web search result the answer may cite as `[index]`."""

    index: int
    title: str
    url: str
    site_name: str = ""

    @property
    def on_the_web(self) -> bool:
        """Its address is an http(s) one: the only kind the worker stores, since the chat's history,
        /v1's citations and share links hand a stored address to whoever reads them (a javascript:
        or data: address there is a link that runs on the reader's page)."""
        return is_web_address(self.url)


class Sources(msgspec.Struct, frozen=True):
    items: tuple[Source, ...]


class Finished(msgspec.Struct, frozen=True, kw_only=True):
    finish_reason: str  # "stop", "length", "tool_calls", ...
    input_tokens: int
    output_tokens: int  # includes the reasoning tokens, as DashScope counts them
    model: str
    request_id: str
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None  # input tokens served from the provider's context cache
    search_calls: int | None = None
    image_tokens: int | None = None  # part of input_tokens


class Read(msgspec.Struct, frozen=True):
    """What the model says it read, before its answer's end: its count of the prompt (a web search's
    results included) and of the images in it (DashScope's native streams, text and multimodal, say
    both with every event; said once, with the first that has them). What an answer that stops
    before its usage came is charged for its prompt."""

    input_tokens: int
    image_tokens: int | None = None  # part of input_tokens


StreamEvent = TextDelta | ReasoningDelta | Sources | Read | Finished


class ProviderError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        request_id: str = "",
        upstream_code: str = "",
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status  # HTTP status (or the SDK's) when there was one
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said
        self.request_id = request_id
        self.upstream_code = upstream_code  # the endpoint's own code, for logs


class Provider(Protocol):
    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        """Deltas, then exactly one `Finished`; raises `ProviderError`. Closing it early stops the call."""
        ...

    async def aclose(self) -> None: ...
