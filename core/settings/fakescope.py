"""The fake DashScope server's defaults (fakescope)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.env import env_float, env_int, env_str


@dataclass(frozen=True)
class FakeScopeSettings:
    """Defaults of the fake DashScope server (fakescope); each request may override them."""

    host: str = field(default_factory=lambda: env_str("FAKESCOPE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("FAKESCOPE_PORT", 8089))
    ttft: float = field(default_factory=lambda: env_float("FAKESCOPE_TTFT", 0.5))  # seconds to first token
    tokens_per_s: float = field(default_factory=lambda: env_float("FAKESCOPE_TOKENS_PER_S", 40.0))  # 0 = no pacing
    tokens_per_event: int = field(default_factory=lambda: env_int("FAKESCOPE_TOKENS_PER_EVENT", 3))
    answer_tokens: int = field(default_factory=lambda: env_int("FAKESCOPE_ANSWER_TOKENS", 120))
    jitter: float = field(default_factory=lambda: env_float("FAKESCOPE_JITTER", 0.0))  # +- fraction per interval
    api_keys: tuple[str, ...] = field(
        default_factory=lambda: tuple(k.strip() for k in env_str("FAKESCOPE_API_KEYS", "").split(",") if k.strip())
    )
