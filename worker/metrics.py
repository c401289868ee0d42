"""What an operator watches: turn outcomes, work in flight, time to first token, provider errors,
lease retakes, model calls and tokens, the queue of unanswered questions. Served in the
Prometheus text format when WORKER_METRICS_PORT is set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from worker.llm import ChatMessage, Finished, GenerationParams, Provider, StreamEvent


class Metrics:
    """One registry per worker, so in-process tests can run several workers side by side."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter("worker_turns", "Turns finished, by final status", ["status"], registry=self.registry)
        self.in_flight = Gauge("worker_turns_in_flight", "Turns being answered now", registry=self.registry)
        self.ttft = Histogram(
            "worker_time_to_first_token_seconds",
            "Claim to first provider token (less when an early call began before the claim: worker/early.py)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        # The hops of a first token the worker sees (bench/worker_bench.py reports them as a budget).
        fast = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.5, 2)
        self.notify_delay = Histogram(
            "worker_notify_delay_seconds",
            "A question's insert (its created_at) to its Realtime event at this worker",
            buckets=fast,
            registry=self.registry,
        )
        self.claim_seconds = Histogram(
            "worker_claim_seconds",
            "One worker_claim call (a batch of offered questions)",
            buckets=fast,
            registry=self.registry,
        )
        self.broadcast_seconds = Histogram(
            "worker_broadcast_seconds",
            "One POST of chunks to the Realtime broadcast API",
            buckets=fast,
            registry=self.registry,
        )
        self.gc_pause = Histogram(
            "worker_gc_pause_seconds",
            "Cyclic garbage collections, by generation: the event loop stands still for each (core/collector.py)",
            ["generation"],
            buckets=fast,
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
        self.histories_resumed = Counter(
            "worker_histories_resumed",
            "Claims whose history resumed from the one kept for the session's previous turn (worker/histories.py)",
            registry=self.registry,
        )
        self.early_calls = Counter(
            "worker_early_calls",
            "Model calls started before their question's claim (worker/early.py), by outcome: started, taken by"
            " the claim's turn, discarded (the claim's prompt differed), unclaimed (claimed elsewhere, or expired)",
            ["outcome"],
            registry=self.registry,
        )
        self.images_read_ahead = Counter(
            "worker_images_read_ahead",
            "Images of new questions read while their claim ran (LLM_IMAGE_READ_AHEAD)",
            registry=self.registry,
        )

        self.model_calls = Counter(
            "worker_model_calls", "Provider calls made (retries included), by model", ["model"], registry=self.registry
        )
        self.tokens = Counter(
            "worker_tokens",
            "Tokens the provider reported, by direction (input, output)",
            ["direction"],
            registry=self.registry,
        )
        self.listening = Gauge(
            "worker_listening", "1 while the Realtime subscription to new questions is joined", registry=self.registry
        )
        self.peers = Gauge(
            "worker_peers",
            "Other workers on the listening channel at its last presence sync (worker/early.py: claims deferred)",
            registry=self.registry,
        )
        self.joins = Counter(
            "worker_realtime_joins",
            "Times the Realtime subscription joined: once at start, then once per rejoin after a loss",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "worker_queue_depth",
            "Questions waiting for a worker at the last sweep (no answer row, or its lease expired; max 1000)",
            registry=self.registry,
        )

    def meter(self, provider: Provider) -> Provider:
        """`provider`, counting its calls and the tokens each finished call reports."""
        return _MeteredProvider(provider, self)

    def serve(self, port: int) -> None:
        if port:
            start_http_server(port, addr="0.0.0.0", registry=self.registry)  # noqa: S104 - scraped from outside


class _MeteredProvider:
    def __init__(self, inner: Provider, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self._metrics.model_calls.labels(params.model).inc()
        events = self._inner.stream(messages, params)
        try:
            async for event in events:
                if isinstance(event, Finished):
                    self._metrics.tokens.labels("input").inc(event.input_tokens)
                    self._metrics.tokens.labels("output").inc(event.output_tokens)
                yield event
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:  # closing early must stop the call underneath too
                await close()

    async def aclose(self) -> None:
        await self._inner.aclose()
