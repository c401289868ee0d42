"""The schema cache: the catalog of the exposed schemas, reloaded on `NOTIFY pgrst`.

One dedicated connection listens on the `pgrst` channel, as PostgREST does; an empty payload or
`reload schema` reloads the catalog, `reload config` re-reads the in-database configuration
(`localbase.rest.config`) and hands it to `on_config`. DDL in bursts reloads once or twice, never once per
notification, and a request naming something not yet in the cache waits for a reload in flight
(`settled`) before answering 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from localbase.rest.catalog import Catalog
from localbase.rest.catalog_load import load_catalog
from localbase.rest.config import load_database_settings

log = logging.getLogger(__name__)


class SchemaCache:
    def __init__(
        self,
        database_url: str,
        exposed: tuple[str, ...],
        on_reload: Callable[[], None],
        on_config: Callable[[dict[str, str]], None],
    ) -> None:
        self.database_url = database_url
        self.exposed = exposed
        self.catalog = Catalog()
        self._on_reload = on_reload
        self._on_config = on_config
        self._config_tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncpg.Connection | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False

    async def start(self) -> None:
        self._listener = await asyncpg.connect(self.database_url)
        await self._listener.add_listener("pgrst", self._on_notify)
        self._on_config(await load_database_settings(self._listener))
        self.catalog = await load_catalog(self._listener, self.exposed)

    async def stop(self) -> None:
        if self._reload is not None:
            self._reload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload
        if self._listener is not None:
            await self._listener.close()

    async def settled(self) -> Catalog:
        """The catalog once a reload in flight has finished."""
        if self._reload is not None and not self._reload.done():
            await asyncio.shield(self._reload)
        return self.catalog

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
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
        assert self._listener is not None
        try:
            self._on_config(await load_database_settings(self._listener))
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            log.exception("in-database config reload failed")

    async def _reload_schema(self) -> None:
        """Reload until no notification arrived meanwhile."""
        assert self._listener is not None
        while True:
            self._reload_again = False
            try:
                catalog = await load_catalog(self._listener, self.exposed)
            except (asyncpg.PostgresError, OSError):
                log.exception("schema cache reload failed")
                return
            self.catalog = catalog
            self._on_reload()
            if not self._reload_again:
                return
