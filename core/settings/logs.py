"""How every service logs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.settings.env import env_str


@dataclass(frozen=True)
class LogSettings:
    """How every service logs: `json` (the seed's format), `pretty` (one readable line per event), or
    `auto`: pretty when stderr is a terminal, JSON otherwise. NO_COLOR turns the colours off."""

    format: str = field(default_factory=lambda: env_str("LOG_FORMAT", "auto").strip().lower())
    no_color: bool = field(default_factory=lambda: bool(os.environ.get("NO_COLOR")))
