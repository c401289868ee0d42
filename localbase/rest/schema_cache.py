"""The schema cache: the catalog of the exposed schemas, reloaded on `NOTIFY pgrst`.

One dedicated connection listens on the `pgrst` channel, as PostgREST does; an empty payload or
`reload schema` reloads the catalog. DDL in bursts reloads once or twice, never once per
notification, and a request naming something not yet in the cache waits for a reload in flight
(`settled`) before answering 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from localbase.rest.catalog import Catalog
from localbase.rest.catalog_load import load_catalog

log = logging.getLogger(__name__)


class SchemaCache:
    def __init__(self, database_url: str, exposed: tuple[str, ...], on_reload: Callable[[], None]) -> None:
        self.database_url = database_url
        self.exposed = exposed
        self.catalog = Catalog()
        self._on_reload = on_reload
        self._listener: asyncpg.Connection | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False

    async def start(self) -> None:
        self._listener = await asyncpg.connect(self.database_url)
        await self._listener.add_listener("pgrst", self._on_notify)
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
        if payload not in ("", "reload schema"):
            return
        if self._reload is not None and not self._reload.done():
            self._reload_again = True
            return
        self._reload = asyncio.get_running_loop().create_task(self._reload_schema())

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
