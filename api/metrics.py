"""Prometheus metrics of one API process: requests by route, latency, errors, sockets, messages,
security events.

Each app gets its own registry, so tests can build several apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "api_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=self.registry
        )
        self.errors = Counter(
            "api_request_errors",
            "HTTP responses with status >= 500 by route",
            ["method", "route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "api_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.websockets = Gauge("api_websocket_connections", "Open chat WebSockets", registry=self.registry)
        self.messages_sent = Counter(
            "api_messages_sent", "User messages stored, by transport", ["transport"], registry=self.registry
        )
        self.security_events = Counter(
            "api_security_events", "Security events recorded, by kind", ["kind"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
