"""Logs for a person at a terminal: one short line per event with the service's name in front, the
way `docker compose up` and `supabase start` users read them.

    chatgalaxy-api │ 12:04:31  GET /api/sessions → 200  3.1 ms
    worker         │ 12:04:32  answer completed  session_id=… tokens_used=57
    localbase      │ 12:04:40  WARN  sign-in failed  reason=invalid_credentials
    chatgalaxy-api │ 12:04:41  ERROR internal error  code=InternalError request_id=…
                     Traceback (most recent call last): …

Access records (method, route or path, status, duration) are summarized on one line; warnings
are yellow and errors red; other fields follow as key=value, long values cut, and the keys of
`core.logs.REDACTED` never shown. Colour only on a terminal and without NO_COLOR.
"""

from __future__ import annotations

import logging
import zlib
from datetime import datetime
from typing import Any

RESET, DIM, BOLD = "\033[0m", "\033[2m", "\033[1m"
RED, GREEN, YELLOW, CYAN = "\033[31m", "\033[32m", "\033[33m", "\033[36m"
_SERVICE_COLOURS = ("\033[36m", "\033[35m", "\033[34m", "\033[32m", "\033[33m", "\033[96m", "\033[95m", "\033[94m")
_ACCESS = ("method", "status")
_HIDDEN = frozenset({"method", "route", "path", "status", "duration_ms", "service"})
_MAX_VALUE = 80


def _status_colour(status: int) -> str:
    if status >= 500:
        return RED + BOLD
    if status >= 400:
        return YELLOW
    if status >= 300:
        return CYAN
    return GREEN


class PrettyFormatter(logging.Formatter):
    def __init__(self, service: str, *, colour: bool, standard: frozenset[str], redacted: frozenset[str]) -> None:
        super().__init__()
        self.service = service
        self.colour = colour
        self._standard = standard
        self._redacted = redacted
        tint = _SERVICE_COLOURS[zlib.crc32(service.encode()) % len(_SERVICE_COLOURS)]
        self._prefix = self._paint(f"{service[:14]:<14} │", tint)
        self._indent = " " * 17

    def _paint(self, text: str, *codes: str) -> str:
        return f"{''.join(codes)}{text}{RESET}" if self.colour and codes else text

    def format(self, record: logging.LogRecord) -> str:
        clock = self._paint(datetime.fromtimestamp(record.created).strftime("%H:%M:%S"), DIM)
        fields = {k: v for k, v in record.__dict__.items() if k not in self._standard and not k.startswith("_")}
        text = self._access(fields) if all(key in fields for key in _ACCESS) else record.getMessage()
        level = ""
        if record.levelno >= logging.ERROR:
            level, text = self._paint("ERROR", RED, BOLD) + " ", self._paint(text, RED, BOLD)
        elif record.levelno >= logging.WARNING:
            level, text = self._paint("WARN", YELLOW, BOLD) + "  ", self._paint(text, YELLOW)
        elif record.levelno < logging.INFO:
            text = self._paint(text, DIM)
        extras = self._extras(fields)
        line = f"{self._prefix} {clock}  {level}{text}" + (f"  {self._paint(extras, DIM)}" if extras else "")
        if record.exc_info:
            trace = self.formatException(record.exc_info).splitlines()
            line += "".join(f"\n{self._indent}{self._paint(row, RED)}" for row in trace)
        return line

    def _access(self, fields: dict[str, Any]) -> str:
        status = int(fields.get("status") or 0)
        target = fields.get("route") or fields.get("path") or ""
        duration = fields.get("duration_ms")
        took = f"  {duration} ms" if duration is not None else ""
        return f"{fields['method']} {target} → {self._paint(str(status), _status_colour(status))}{took}"

    def _extras(self, fields: dict[str, Any]) -> str:
        parts = []
        for key, value in fields.items():
            if key in _HIDDEN and "status" in fields:
                continue
            shown = "[redacted]" if key.lower() in self._redacted else str(value)
            if len(shown) > _MAX_VALUE:
                shown = shown[: _MAX_VALUE - 1] + "…"
            parts.append(f"{key}={shown}")
        return " ".join(parts)
