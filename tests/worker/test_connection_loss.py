"""The worker's Postgres connection lost mid-answer: what was written stays written once, and what
follows a write (the `done` broadcast, the title) still follows it when the connection that carried
the write was lost before its answer came back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from core.settings import login_as
from localbase.postgres import Cluster
from tests.conftest import LocalStack, isolated_stack
from tests.worker.conftest import Owner, RecordingFakeScope, Workers, ask, final_answer, until, worker_settings
from tests.worker.test_streaming import join_chat


class CuttingProxy:
    """A TCP relay to Postgres that, once armed, cuts the connection whose statement carries
    `marker` when the database's answer to it comes back: the statement ran (and committed, as a
    single statement does before Postgres answers), its caller never hears so."""

    def __init__(self, host: str, port: int, marker: bytes) -> None:
        self._target = (host, port)
        self._marker = marker
        self.armed = False
        self.cut = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        doomed = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self.armed and self._marker in data:
                    self.armed = False
                    doomed.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if doomed.is_set():
                    self.cut += 1
                    return  # the answer is dropped with the connection
                client_w.write(data)
                await client_w.drain()

        pipes = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        for pipe in pipes:
            self._tasks.add(pipe)
            pipe.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            for writer in (client_w, server_w):
                writer.transport.abort()


@contextlib.asynccontextmanager
async def cutting(stack: LocalStack, marker: bytes) -> AsyncIterator[tuple[CuttingProxy, str]]:
    """The proxy and the worker's database URL through it."""
    direct = urlsplit(login_as(stack.dsn, "authenticator"))
    proxy = CuttingProxy(direct.hostname or "127.0.0.1", direct.port or 5432, marker)
    port = await proxy.start()
    netloc = direct.netloc.rsplit(":", 1)[0] + f":{port}"
    try:
        yield proxy, urlunsplit(direct._replace(netloc=netloc))
    finally:
        await proxy.stop()


@pytest.fixture
def stack(pg_cluster: Cluster, template_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of this test's own: in the worker tests' shared one, a question an earlier test left
    unanswered was found by the sweep of the worker started here, and the proxy cut that question's
    finish instead of this test's (a clean-clone run, 12-05)."""
    with isolated_stack(pg_cluster, f"cg_cut_{uuid.uuid4().hex[:8]}", tmp_path_factory) as local:
        yield local


async def test_a_finish_whose_answer_was_lost_with_the_connection_is_known_as_written(
    stack: LocalStack, pg: asyncpg.Connection, fake: RecordingFakeScope, workers: Workers, owner: Owner
) -> None:
    """The connection drops just after the final row commits: the worker writes it again on another
    connection, and that write is known as its own already made (not a lease lost to another
    worker), so the owner gets the `done` summary and the chat its title, once."""
    await pg.execute("update chat_sessions set title = null where id = $1", owner.session_id)
    client, events, state = await join_chat(stack, owner.token, owner.session_id)
    assert state == "SUBSCRIBED"
    try:
        async with cutting(stack, b'"kind":"finish"') as (proxy, url):
            await workers.start(worker_settings(stack, fake, titles=True, database_url=url))
            proxy.armed = True
            question = await ask(pg, owner, "How do I brew green tea properly at home?")
            row = await final_answer(pg, question)
            assert proxy.cut == 1

            async def done() -> list[dict[str, object]]:
                return [e["payload"] for e in events if e["event"] == "done"]

            [summary] = await until(done, 10)

            async def titled() -> str | None:
                title = await pg.fetchval("select title from chat_sessions where id = $1", owner.session_id)
                return str(title) if title else None

            assert await until(titled, 10) == "How Do I Brew Green Tea"
            await workers.stop_all()  # before its database's door closes
    finally:
        await client.realtime.close()

    assert (row["status"], row["attempts"]) == ("completed", 1)
    assert (summary["message_id"], summary["status"], summary["length"]) == (
        str(row["id"]),
        "completed",
        len(row["content"]),
    )
    assert summary["tokens_used"] == row["tokens_used"] > 0
    assert fake.stats.calls == 2  # the answer, then the title: nothing asked twice
