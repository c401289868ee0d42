"""The Realtime subscription's life as the worker sees it: it receives only the columns it reads;
a lost subscription is warned of and
joined again without a warning, by the worker itself however long the gateway was away, with one
set of bindings (each new question heard once); and a worker stops promptly whatever state the
subscription is in (never joined, joined, waiting to rejoin after the gateway dropped it). Its
channel is private: no one but a worker joins it, or is counted as one."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeClient

from core.jwt import encode
from core.settings import SupabaseSettings
from localbase.notify import listener_name
from tests.conftest import LocalStack, channel_options, free_port
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, sample, until, worker_settings
from worker.app import Worker
from worker.listener import CHANNEL, INSERT_COLUMNS, UPDATE_COLUMNS, Listener
from worker.retry import Backoff
from worker.waits import cancel_and_wait, woken

# A prompt stop takes milliseconds. The bound only turns a hang into a failure, and sits below
# the 10 s that the Realtime client's push and websocket-close timeouts would cost a stop
# that waited on them.
STOP_WITHIN = 5.0


def listener_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "worker.listener" and r.levelno >= logging.WARNING]


async def stopped_promptly(worker: Worker) -> None:
    async with asyncio.timeout(STOP_WITHIN):
        await worker.stop(grace=1.0)


async def test_a_loop_woken_as_it_is_cancelled_ends_at_every_tick() -> None:
    # The sweeper's and the row writer's loop, cancelled 0..5 loop ticks after its event was set:
    # on Python 3.11 `asyncio.wait_for` returned normally at some of these ticks and the loop ran
    # on (the worker's stop then waited for it forever).
    for ticks in range(6):
        event = asyncio.Event()
        rounds = 0

        async def loop(event: asyncio.Event = event) -> None:
            nonlocal rounds
            while True:
                await woken(event, 30.0)
                event.clear()
                rounds += 1

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        event.set()
        for _ in range(ticks):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN)
        assert task in done, f"a cancel {ticks} ticks after the wake-up was swallowed"
        assert task.cancelled()
        assert rounds <= 1


async def test_cancel_and_wait_keeps_a_cancel_of_its_caller() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:  # ends only once released, whatever cancels it
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    inner = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    outer = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    release.set()
    await asyncio.wait({inner})
    assert inner.done()


async def test_a_worker_whose_gateway_is_down_stops_promptly_and_never_says_it_listens(
    stack: LocalStack, fake: RecordingFakeScope, caplog: pytest.LogCaptureFixture
) -> None:
    down = SupabaseSettings(url=f"http://127.0.0.1:{free_port()}", jwt_secret=stack.jwt_secret)
    worker = Worker(replace(worker_settings(stack, fake), supabase=down))
    await worker.start()
    try:

        async def refused() -> bool:  # the Realtime client is between connection attempts
            return any("Connection attempt failed" in r.getMessage() for r in caplog.records)

        await until(refused, 10)
        assert sample(worker, "worker_listening") == 0
    finally:
        await stopped_promptly(worker)
    assert sample(worker, "worker_listening") == 0


async def _drop_the_change_stream(stack: LocalStack, pg: asyncpg.Connection) -> None:
    """Kill the gateway's LISTEN connection (localbase/notify.py): it reconnects and tells every
    postgres_changes channel (a `system` error), which the Realtime client reports as CHANNEL_ERROR
    and rejoins after 1 s: the gateway dropping the subscription, through the real stack."""
    assert stack.process is not None
    pids = await pg.fetch(
        "select pid from pg_stat_activity where datname = current_database() and application_name = $1",
        listener_name(stack.process.pid),
    )
    [pid] = [row["pid"] for row in pids]
    assert await pg.fetchval("select pg_terminate_backend($1)", pid)


async def test_a_dropped_subscription_warns_and_its_rejoin_does_not(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, owner: Owner, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(worker_settings(stack, fake))
    await worker.start()
    try:
        await asyncio.wait_for(worker.listening(), 15)
        assert listener_warnings(caplog) == []
        await _drop_the_change_stream(stack, pg)

        async def dropped() -> bool:
            return bool(listener_warnings(caplog))

        await until(dropped, 10)
        assert listener_warnings(caplog) == ["realtime subscription CHANNEL_ERROR"]

        async def rejoined() -> bool:
            return sample(worker, "worker_listening") == 1

        await until(rejoined, 10)
        assert listener_warnings(caplog) == ["realtime subscription CHANNEL_ERROR"]
        assert sample(worker, "worker_realtime_joins_total") == 2
        # The rejoined subscription has one set of bindings: a new question is heard once (a retry
        # on the same channel object used to bind again, and each question came twice).
        question = await ask(pg, owner)
        assert (await final_answer(pg, question))["status"] == "completed"
        assert sample(worker, "worker_offers_total", source="realtime") == 1
        assert sample(worker, "worker_notify_delay_seconds_count") == 1
    finally:
        await stopped_promptly(worker)
    assert listener_warnings(caplog) == ["realtime subscription CHANNEL_ERROR"], "the stop itself was warned of"
    assert sample(worker, "worker_listening") == 0, "a stopped worker still says it listens"


async def test_a_channel_the_server_closes_is_warned_of_and_tried_again_until_the_stop(
    stack: LocalStack, fake: RecordingFakeScope, caplog: pytest.LogCaptureFixture
) -> None:
    # A service key that expires a few seconds after the join: the gateway closes the channel (a
    # `system` error, then phx_close) and refuses the key from then on (HTTP 401 on the socket).
    # realtime-py's own rejoin stopped at the close, silently; the listener keeps trying (and
    # would join as soon as it could). The key lives 4 s; a worker that could not join within them
    # (a loaded machine) is stopped and the test begins again with one of 10 s.
    async def closed_and_refused_thrice() -> bool:
        return len(listener_warnings(caplog)) >= 4

    for lives in (4, 10):
        caplog.clear()
        now = int(time.time())
        key = encode({"iss": "supabase", "role": "service_role", "iat": now, "exp": now + lives}, stack.jwt_secret)
        expiring = SupabaseSettings(url=stack.url, jwt_secret=stack.jwt_secret, service_role_key=key)
        worker = Worker(replace(worker_settings(stack, fake), supabase=expiring))
        await worker.start()
        try:
            try:
                await asyncio.wait_for(worker.listening(), now + lives - time.time())
            except TimeoutError:
                continue  # not joined before the key expired
            await until(closed_and_refused_thrice, 20)
            assert listener_warnings(caplog)[0] == "realtime subscription CHANNEL_ERROR"
            assert sample(worker, "worker_listening") == 0
            assert sample(worker, "worker_realtime_joins_total") == 1
            return
        finally:
            await stopped_promptly(worker)
    raise AssertionError("the worker did not join within the 10 s its key lived")


async def test_a_worker_stopped_while_its_subscription_waits_to_rejoin_stops_promptly(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, caplog: pytest.LogCaptureFixture
) -> None:
    # The next try is half a minute away: the stop below lands while the listener waits for it.
    worker = Worker(worker_settings(stack, fake, realtime_retry_base=60.0, realtime_retry_cap=60.0))
    await worker.start()
    try:
        await asyncio.wait_for(worker.listening(), 15)
        await _drop_the_change_stream(stack, pg)

        async def dropped() -> bool:
            return sample(worker, "worker_listening") == 0

        await until(dropped, 10)
    finally:
        await stopped_promptly(worker)
    assert listener_warnings(caplog) == ["realtime subscription CHANNEL_ERROR"]


# realtime-py's own reconnect gives up after this many failed tries (~15 s) and then tells nobody.
REALTIME_PY_GIVES_UP_AFTER: int = inspect.signature(AsyncRealtimeClient).parameters["max_retries"].default


async def test_a_worker_rejoins_by_itself_after_its_gateway_was_away_longer_than_realtime_py_retries(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, owner: Owner, caplog: pytest.LogCaptureFixture
) -> None:
    # A sweep only at start: what comes later comes through realtime, or through the sweep each
    # join kicks.
    worker = Worker(worker_settings(stack, fake, sweep_interval=3600.0))
    await worker.start()
    try:
        await asyncio.wait_for(worker.listening(), 15)
        await asyncio.to_thread(stack.stop)
        try:

            async def failed_more_than_realtime_py_tries() -> bool:
                failed = [w for w in listener_warnings(caplog) if w == "realtime subscribe failed"]
                return len(failed) > REALTIME_PY_GIVES_UP_AFTER

            await until(failed_more_than_realtime_py_tries, 30)
            assert sample(worker, "worker_listening") == 0
            asked_while_deaf = await ask(pg, owner, "asked while the gateway was away")
        finally:
            await asyncio.to_thread(stack.start)  # the suite's gateway, on its port, whatever happened

        async def rejoined() -> bool:
            return sample(worker, "worker_listening") == 1

        await until(rejoined, 15)
        assert sample(worker, "worker_realtime_joins_total") == 2
        warned = listener_warnings(caplog)
        assert warned[0].startswith("realtime subscription "), warned  # the loss, then the failed tries
        # The join kicked a sweep: the question nobody heard is answered now, not an hour later.
        assert (await final_answer(pg, asked_while_deaf))["status"] == "completed"
        assert sample(worker, "worker_offers_total", source="realtime") == 0
        # And the subscription hears new questions again, each once.
        question = await ask(pg, owner)
        assert (await final_answer(pg, question))["status"] == "completed"
        assert sample(worker, "worker_offers_total", source="realtime") == 1
        assert listener_warnings(caplog) == warned, "the rejoin was warned of"
    finally:
        await stopped_promptly(worker)
    assert sample(worker, "worker_listening") == 0


def test_the_rejoin_backoff_stays_bounded_however_long_the_gateway_is_away() -> None:
    backoff = Backoff(0, base=0.5, cap=10.0)
    assert 0.25 <= backoff.delay(1) <= 0.5
    assert 5.0 <= backoff.delay(10_000) <= 10.0  # 2 ** 9999 as a float would overflow


async def test_the_worker_hears_only_the_columns_it_reads(
    stack: LocalStack, pg: asyncpg.Connection, workers: Workers, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each binding asks for the columns the listener reads (`select`): a question's text and the
    rest of its row never reach the worker on Realtime, and what it needs still does (the question
    is answered; a cancel request is heard)."""
    heard: list[tuple[str, set[str]]] = []
    inserted, updated = Listener._inserted, Listener._updated

    def on_insert(listener: Listener, payload: Any) -> None:
        heard.append(("INSERT", set(payload["data"]["record"])))
        inserted(listener, payload)

    def on_update(listener: Listener, payload: Any) -> None:
        heard.append(("UPDATE", set(payload["data"]["record"])))
        updated(listener, payload)

    monkeypatch.setattr(Listener, "_inserted", on_insert)
    monkeypatch.setattr(Listener, "_updated", on_update)
    async with RecordingFakeScope(ttft=0.0, tokens_per_s=20.0, tokens_per_event=1, answer_tokens=400) as slow:
        worker = await workers.start(worker_settings(stack, slow))
        await worker.listening()
        question = await ask(pg, owner, "a question whose text the worker reads only in its claim")

        async def streaming() -> str | None:
            found = await pg.fetchval(
                "select id::text from chat_messages where reply_to = $1 and content <> ''", question
            )
            return str(found) if found else None

        answer = await until(streaming)
        await pg.execute("update chat_messages set cancel_requested = true where id = $1", answer)
        row = await final_answer(pg, question, within=10)

    assert row["status"] == "cancelled"
    assert heard[0] == ("INSERT", set(INSERT_COLUMNS))
    assert await until(lambda: _update_heard(heard)) == ("UPDATE", set(UPDATE_COLUMNS))


async def _update_heard(heard: list[tuple[str, set[str]]]) -> tuple[str, set[str]] | None:
    return next((item for item in heard if item[0] == "UPDATE"), None)


async def test_no_stranger_can_join_the_listening_channel_or_be_counted_as_a_worker(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, owner: Owner
) -> None:
    # The channel was public: anyone with the anon key could join it and track presence, each
    # worker counted such a stranger as a peer and deferred its claims (WORKER_CLAIM_DEFER) of
    # every question it had not called the model early for: everyone's first token came later.
    worker = Worker(worker_settings(stack, fake))
    await worker.start()
    realtime = f"{stack.url.replace('http://', 'ws://')}/realtime/v1"
    anon, user = AsyncRealtimeClient(realtime, stack.anon_key), AsyncRealtimeClient(realtime, owner.token)
    watcher = AsyncRealtimeClient(realtime, stack.anon_key)
    try:
        await asyncio.wait_for(worker.listening(), 15)
        presence = {"key": "stranger", "enabled": True}

        async def join_privately(stranger: AsyncRealtimeClient) -> list[tuple[str, str]]:
            states: list[tuple[str, str]] = []
            private = stranger.channel(CHANNEL, channel_options(private=True, presence=presence))
            await private.subscribe(lambda state, error: states.append((state.value, str(error))))

            async def answered() -> bool:
                return bool(states)

            await until(answered, 10)
            return states

        for stranger in (anon, user):
            states = await join_privately(stranger)
            assert states[0][0] == "CHANNEL_ERROR", states
            assert "Unauthorized" in states[0][1], states
        # The public topic of the same name is another channel: the worker is not on it.
        public = watcher.channel(CHANNEL, channel_options(private=False, presence=presence))
        joined: list[str] = []
        seen: list[set[str]] = []
        public.on_presence_sync(lambda: seen.append(set(public.presence_state())))
        await public.subscribe(lambda state, error: joined.append(state.value))

        async def subscribed() -> bool:
            return bool(joined)

        await until(subscribed, 10)
        assert joined == ["SUBSCRIBED"]
        await public.track({"worker": "stranger"})

        async def tracked() -> bool:
            return bool(seen) and "stranger" in seen[-1]

        await until(tracked, 10)
        assert seen[-1] == {"stranger"}
        # The question's change comes on the worker's socket after any presence it was sent.
        assert (await final_answer(pg, await ask(pg, owner)))["status"] == "completed"
        assert sample(worker, "worker_peers") == 0
    finally:
        for client in (anon, user, watcher):
            await client.close()
        await stopped_promptly(worker)
