"""Structured JSON logs in the seed's format (section 9.2), one object per line.

`log.info("AI response generated", extra={"user_id": ..., "response_time": 1200})` becomes
{"timestamp", "level", "service", "module", "message", "user_id", "response_time"}. Keys named in
REDACTED never reach the output: passwords, tokens and keys are not logged.

That is the format whenever stderr is not a terminal (production, files, pipes, tests) or
LOG_FORMAT=json. At a terminal (or LOG_FORMAT=pretty) a person gets one readable line per event
instead (core/prettylogs.py), coloured unless NO_COLOR is set.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from core.prettylogs import PrettyFormatter
from core.settings import LogSettings

REDACTED = frozenset({"password", "access_token", "refresh_token", "token", "apikey", "authorization", "api_key"})
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "module": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = "[redacted]" if key.lower() in REDACTED else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def pretty_wanted(log_format: str, stream: Any) -> bool:
    """LOG_FORMAT=pretty, or `auto` (the default) with `stream` a terminal."""
    if log_format == "pretty":
        return True
    if log_format == "json":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure(service: str, level: str = "INFO") -> None:
    """Route the root logger to stderr for `service`: JSON lines, or readable lines at a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    wanted = LogSettings()
    formatter: logging.Formatter
    if pretty_wanted(wanted.format, sys.stderr):
        colour = not wanted.no_color and pretty_wanted("auto", sys.stderr)
        formatter = PrettyFormatter(service, colour=colour, standard=_STANDARD, redacted=REDACTED)
    else:
        formatter = JsonFormatter(service)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
