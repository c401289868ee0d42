"""Choosing the provider from configuration (LLM_PROVIDER=dashscope|openai)."""

from __future__ import annotations

from core.settings import LlmSettings
from worker.llm.base import Provider
from worker.llm.dashscope import DashScopeProvider
from worker.llm.openai_compat import OpenAICompatProvider


def make_provider(settings: LlmSettings) -> Provider:
    if settings.provider == "dashscope":
        return DashScopeProvider(
            base_url=settings.dashscope_base_url,
            api_key=settings.api_key,
            read_timeout=settings.read_timeout,
            max_connections=settings.max_connections,
        )
    if settings.provider == "openai":
        return OpenAICompatProvider(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_connections=settings.max_connections,
        )
    raise ValueError(f"LLM_PROVIDER must be dashscope or openai, not {settings.provider!r}")
