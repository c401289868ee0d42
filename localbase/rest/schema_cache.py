"""The schema cache: the catalog of the exposed schemas, reloaded on `NOTIFY pgrst`.

It follows the `pgrst` channel on the gateway's LISTEN connection (localbase/notify.py), as
PostgREST does; an empty payload or `reload schema` reloads the catalog, `reload config` re-reads
the in-database configuration (`localbase.rest.config`) and hands it to `on_config`. DDL in bursts
reloads once or twice, never once per notification, and a request naming something not yet in
the cache waits for a reload in flight (`settled`) before answering 404. When that connection was
lost (notifications may have been missed meanwhile), both are reloaded. Each load reads on a
connection of its own, opened for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg

from localbase.notify import Notifications
from localbase.rest.catalog import Catalog
from localbase.rest.catalog_load import load_catalog
from localbase.rest.config import load_database_settings

log = logging.getLogger(__name__)


class SchemaCache:
    def __init__(
        self,
        database_url: str,
        notifications: Notifications,
        exposed: tuple[str, ...],
        on_reload: Callable[[], None],
        on_config: Callable[[dict[str, str]], None],
    ) -> None:
        self.database_url = database_url
        self._notifications = notifications
        self.exposed = exposed
        self.catalog = Catalog()
        self._on_reload = on_reload
        self._on_config = on_config
        self._config_tasks: set[asyncio.Task[Any]] = set()
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False

    async def start(self) -> None:
        await self._notifications.listen("pgrst", self._on_notify, self._on_gap)
        async with self._connection() as conn:
            self._on_config(await load_database_settings(conn))
            self.catalog = await load_catalog(conn, self.exposed)

    async def stop(self) -> None:
        if self._reload is not None:
            self._reload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload
        for task in list(self._config_tasks):
            task.cancel()

    async def settled(self) -> Catalog:
        """The catalog once a reload in flight has finished."""
        if self._reload is not None and not self._reload.done():
            await asyncio.shield(self._reload)
        return self.catalog

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.database_url)
        try:
            yield conn
        finally:
            await conn.close()

    def _on_gap(self) -> None:
        self._on_notify("reload config")
        self._on_notify("reload schema")

    def _on_notify(self, payload: str) -> None:
        if payload == "reload config":
            task = asyncio.get_running_loop().create_task(self._reload_config())
            self._config_tasks.add(task)
            task.add_done_callback(self._config_tasks.discard)
            return
        if payload not in ("", "reload schema"):
            return
        if self._reload is not None and not self._reload.done():
            self._reload_again = True
            return
        self._reload = asyncio.get_running_loop().create_task(self._reload_schema())

    async def _reload_config(self) -> None:
        try:
            async with self._connection() as conn:
                self._on_config(await load_database_settings(conn))
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            log.exception("in-database config reload failed")

    async def _reload_schema(self) -> None:
        """Reload until no notification arrived meanwhile."""
        while True:
            self._reload_again = False
            try:
                async with self._connection() as conn:
                    catalog = await load_catalog(conn, self.exposed)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                log.exception("schema cache reload failed")
                return
            self.catalog = catalog
            self._on_reload()
            if not self._reload_again:
                return
