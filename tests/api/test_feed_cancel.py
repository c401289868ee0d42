"""A request's answer stream ends when its request is cancelled (the client went away, the server
stops), whatever moment the cancel lands: `next()` waits with asyncio.timeout, not
asyncio.wait_for, which on Python 3.11 returns normally when the cancel lands right after an event
arrived (CPython gh-86296), and the stream loop went on."""

from __future__ import annotations

import asyncio

import pytest

from api.replies import ReplyEvent, ReplyFeed
from api.reply_hub import HubFeed, ReplyHub
from api.security import CurrentUser

UNUSED = "http://127.0.0.1:9/realtime/v1"  # the feeds are never entered: only their queues are used
CHUNK = ReplyEvent(reply_to="q", message_id="a", final=False, seq=1, delta="hi", offset=0)
STOP_WITHIN = 5.0  # a cancel ends the loop at once; the bound only turns a hang into a failure


def feeds() -> list[HubFeed | ReplyFeed]:
    user = CurrentUser("u", "token", None)
    return [HubFeed(ReplyHub(UNUSED, "key", 1.0), "chat:s", "u", "token"), ReplyFeed(UNUSED, "key", user, "s", 1.0)]


@pytest.mark.parametrize("kind", [0, 1], ids=["hub", "own-socket"])
async def test_a_stream_loop_woken_as_it_is_cancelled_ends_at_every_tick(kind: int) -> None:
    for ticks in range(6):
        feed = feeds()[kind]
        rounds = 0

        async def stream(feed: HubFeed | ReplyFeed = feed) -> None:
            nonlocal rounds
            while True:
                await feed.next(30.0)
                rounds += 1

        task = asyncio.create_task(stream())
        await asyncio.sleep(0)
        feed.events.put_nowait(CHUNK)
        for _ in range(ticks):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN)
        assert task in done, f"a cancel {ticks} ticks after the event arrived was swallowed"
        assert task.cancelled()
        assert rounds <= 1


async def test_next_gives_a_queued_event_or_none_when_the_wait_runs_out() -> None:
    for feed in feeds():
        assert await feed.next(0.01) is None
        feed.events.put_nowait(CHUNK)
        assert await feed.next(0.0) == CHUNK  # already there: no wait at all
