"""`python -m fakescope` serves on the port it is given."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx

from tests.conftest import free_port


async def test_module_entry_point_serves_and_stops_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "FAKESCOPE_TTFT": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fakescope", "--host", "127.0.0.1", "--port", str(port), "--answer-tokens", "10", env=env
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):  # up to ~10 s for the interpreter and tokenizer to load
                try:
                    response = await client.get("/_fake/stats")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("fakescope did not start listening")
            assert response.status_code == 200
            answer = await client.post(
                "/compatible-mode/v1/chat/completions",
                json={"model": "qwen-turbo", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer sk-x"},
            )
            assert answer.json()["choices"][0]["message"]["content"].startswith("[offline model]")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
