"""LLM providers behind one `Provider` protocol; see `base` for the events and error codes."""

from worker.llm.base import (
    ChatMessage,
    Finished,
    GenerationParams,
    Provider,
    ProviderError,
    Read,
    ReasoningDelta,
    Source,
    Sources,
    StreamEvent,
    TextDelta,
)
from worker.llm.factory import make_provider

__all__ = [
    "ChatMessage",
    "Finished",
    "GenerationParams",
    "Provider",
    "ProviderError",
    "Read",
    "ReasoningDelta",
    "Source",
    "Sources",
    "StreamEvent",
    "TextDelta",
    "make_provider",
]
