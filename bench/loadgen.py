"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams (cheap enough to share a
2-core machine with the server it measures). Run as a child process by the benchmarks:

    python -m bench.loadgen <spec.json>    -> prints {"count", "errors", "elapsed", "latencies"}

The spec gives host, port, duration, connections, and per-connection request lists (method,
path, headers, body); each connection cycles through its list, one request in flight at a time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


def _encode(host: str, port: int, request: dict[str, Any]) -> bytes:
    body = str(request.get("body", "")).encode()
    lines = [f"{request['method']} {request['path']} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in request.get("headers", {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(spec: dict[str, Any], requests: list[bytes], deadline: float, out: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    latencies: list[float] = out["latencies"]
    index = 0
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            index += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                out["errors"] += 1
                out["last_error"] = status
    finally:
        writer.close()


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    per_connection = [[_encode(spec["host"], spec["port"], r) for r in reqs] for reqs in spec["connections"]]
    # Warm-up: one request per connection, not counted.
    warm = {"latencies": [], "errors": 0}
    await asyncio.gather(*(_connection(spec, reqs, time.monotonic() + 0.3, warm) for reqs in per_connection))
    started = time.monotonic()
    deadline = started + spec["duration"]
    await asyncio.gather(*(_connection(spec, reqs, deadline, out) for reqs in per_connection))
    out["elapsed"] = time.monotonic() - started
    out["count"] = len(out["latencies"])
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        result = asyncio.run(main(json.load(handle)))
    json.dump(result, sys.stdout)
