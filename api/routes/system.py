"""Operations endpoints: health of the API and what it depends on, and Prometheus metrics."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Response, get

from api.metrics import CONTENT_TYPE, Metrics
from api.schemas import HealthResponse
from api.upstream import Upstream


async def _probe(upstream: Upstream, path: str, params: dict[str, str] | None = None) -> str:
    try:
        response = await upstream.http.get(
            f"{upstream.url}{path}", params=params, headers={"apikey": upstream.anon_key}, timeout=3.0
        )
    except httpx.HTTPError:
        return "unreachable"
    return "ok" if response.status_code < 500 else f"status {response.status_code}"


@get("/health", tags=["system"])
async def health(upstream: Upstream) -> Response[HealthResponse]:
    """Auth's own health endpoint, and a read-only RPC through REST that reaches the database."""
    auth, rest = await asyncio.gather(
        _probe(upstream, "/auth/v1/health"),
        _probe(upstream, "/rest/v1/rpc/username_available", {"name": "health-check"}),
    )
    checks = {"auth": auth, "rest": rest}
    healthy = all(v == "ok" for v in checks.values())
    return Response(HealthResponse("ok" if healthy else "degraded", checks), status_code=200 if healthy else 503)


@get("/metrics", tags=["system"], include_in_schema=False)
async def metrics(metrics: Metrics) -> Response[bytes]:
    return Response(metrics.render(), media_type=CONTENT_TYPE)
