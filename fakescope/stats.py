"""Counters for assertions and benchmarks, served by `GET /_fake/stats`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    calls: int = 0  # generation requests received, answered or not
    completed: int = 0  # answers delivered whole (JSON body or stream with its terminal event)
    errors: int = 0  # requests answered with an error status or error frame
    disconnects: int = 0  # streams the client closed before the end
    streams_active: int = 0
    streams_peak: int = 0
    input_tokens: int = 0
    output_tokens: int = 0  # tokens actually sent
    # Request arrival to the first event written, summed over streams: the TTFT actually served
    # (a timer fires up to ~1 ms after it is due), which benchmarks subtract.
    first_event_seconds: float = 0.0
    first_events: int = 0
    faults: Counter[str] = field(default_factory=Counter)  # scripted faults served, by name
    statuses: Counter[int] = field(default_factory=Counter)

    def stream_opened(self) -> None:
        self.streams_active += 1
        self.streams_peak = max(self.streams_peak, self.streams_active)

    def reset(self) -> None:
        """Zero every counter in place (streams in flight hold this object); active streams stay counted."""
        active = self.streams_active
        for name, value in vars(Stats()).items():
            setattr(self, name, value)
        self.streams_active = self.streams_peak = active

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "completed": self.completed,
            "errors": self.errors,
            "disconnects": self.disconnects,
            "streams_active": self.streams_active,
            "streams_peak": self.streams_peak,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "first_event_seconds": self.first_event_seconds,
            "first_events": self.first_events,
            "faults": dict(self.faults),
            "statuses": {str(k): v for k, v in self.statuses.items()},
        }
