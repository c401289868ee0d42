"""What an operator watches: turn outcomes, work in flight, time to first token, provider errors,
lease retakes. Served in the Prometheus text format when WORKER_METRICS_PORT is set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    """One registry per worker, so in-process tests can run several workers side by side."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter("worker_turns", "Turns finished, by final status", ["status"], registry=self.registry)
        self.in_flight = Gauge("worker_turns_in_flight", "Turns being answered now", registry=self.registry)
        self.ttft = Histogram(
            "worker_time_to_first_token_seconds",
            "Claim to first provider token",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "worker_provider_errors", "Provider failures, by stable code", ["code"], registry=self.registry
        )
        self.retakes = Counter(
            "worker_lease_retakes", "Claims that took over an expired or released lease", registry=self.registry
        )
        self.leases_lost = Counter(
            "worker_leases_lost", "Turns abandoned because another worker holds the row now", registry=self.registry
        )
        self.offers = Counter(
            "worker_offers",
            "Questions offered for claiming, by source (realtime, sweep)",
            ["source"],
            registry=self.registry,
        )
        self.claims_missed = Counter(
            "worker_claims_missed", "Questions offered to this worker but answered elsewhere", registry=self.registry
        )

    def serve(self, port: int) -> None:
        if port:
            start_http_server(port, addr="0.0.0.0", registry=self.registry)  # noqa: S104 - scraped from outside
