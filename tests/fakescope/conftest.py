"""One fake DashScope per test session on a free port, unpaced; counters and scripts reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any, TypeVar

import pytest
from dashscope.api_entities.aio_session import close_shared_aio_session

from fakescope.server import FakeScope

R = TypeVar("R")


@pytest.fixture(scope="session")
async def fake() -> AsyncIterator[FakeScope]:
    async with FakeScope(ttft=0, tokens_per_s=0) as server:
        yield server
    # The SDK's per-loop session, used by AioGeneration (its __init__.pyi declares this coroutine a plain def).
    await close_shared_aio_session()


@pytest.fixture(autouse=True)
def _fresh(fake: FakeScope) -> None:
    fake.stats.reset()
    fake.plan.clear()


def chunks(result: object) -> AsyncIterator[Any]:
    """A streamed Aio* call's responses: the SDK's stub says Generator, the runtime gives an async generator."""
    assert isinstance(result, AsyncIterator), result
    return result


def whole(result: R | Generator[R, None, None]) -> R:
    """An Aio* call made without stream=True: one response (the SDK's stub also allows a generator)."""
    assert not isinstance(result, Generator), result
    return result
