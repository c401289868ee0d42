"""One fake DashScope per test session on a free port, unpaced; counters and scripts reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import dashscope
import pytest

from fakescope.server import FakeScope


@pytest.fixture(scope="session")
async def fake() -> AsyncIterator[FakeScope]:
    async with FakeScope(ttft=0, tokens_per_s=0) as server:
        yield server
    await dashscope.close_shared_aio_session()  # the SDK's per-loop session, used by AioGeneration


@pytest.fixture(autouse=True)
def _fresh(fake: FakeScope) -> None:
    fake.stats.reset()
    fake.plan.clear()
