"""postgres_changes fan-out: match bindings, check RLS per subscriber group, shape the payload.

Every change to an RLS table (INSERT, UPDATE and DELETE alike) reaches a subscriber only if the
subscriber may SELECT the row image the trigger captured: the new row, or the old one of a DELETE.
The check (realtime.localbase_visible, see 03_realtime_capture.sql) evaluates the table's SELECT
policies on the image as the subscriber, writing and locking nothing, so it depends on nothing that
happened since: an update quickly followed by a delete still reaches the owner, and nobody learns
of another user's row, not even its primary key. A DELETE's filters see only its replica identity
(`_identity`), as Realtime's do. One call per table per run covers everyone.
Subscribers are grouped by identical claims, so N sockets of one user cost one check. With RLS on,
a DELETE's old_record keeps only the primary key (as Supabase). A change is matched once per
group of channels with equal bindings; `data` is encoded once per (role, select) and spliced into
one frame per (ids, vsn, topic); each subscriber gets all its frames of a run of changes in one
socket write, so a backlog costs a system call per subscriber, not one per change and subscriber.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from localbase.realtime import protocol
from localbase.realtime.authz import BYPASS_ROLES
from localbase.realtime.capture import Batch
from localbase.realtime.catalog import Catalog, Table
from localbase.realtime.filters import Binding
from localbase.realtime.hub import Hub, Outbox
from localbase.realtime.wire import Outbound

if TYPE_CHECKING:
    from localbase.realtime.connection import Channel

log = logging.getLogger(__name__)

_VISIBLE = "select subscriber, image from realtime.localbase_visible($1::int::oid::regclass, $2::jsonb, $3::jsonb)"


class Change:
    __slots__ = ("item", "table", "targets")

    def __init__(self, item: dict[str, Any], table: Table) -> None:
        self.item = item
        self.table = table
        # (channels with equal bindings, the ids of those that matched, the first that matched)
        self.targets: list[tuple[list[Channel], list[int], Binding]] = []


class ChangeFanout:
    def __init__(self, hub: Hub, catalog: Catalog, pool: asyncpg.Pool, broadcast: Any) -> None:
        self._hub = hub
        self._catalog = catalog
        self._pool = pool
        self._broadcast = broadcast

    async def handle(self, batch: Batch) -> None:
        """Deliver one batch in order: runs of changes together, broadcasts and DDL in between."""
        run: list[dict[str, Any]] = []
        for item in batch:
            kind = item.get("k")
            if kind == "c":
                run.append(item)
                continue
            await self._deliver_run(run)
            run = []
            if kind == "d":
                await self._catalog.refresh()
            elif kind == "b":
                await self._broadcast.from_database(item)
        await self._deliver_run(run)

    async def _deliver_run(self, items: list[dict[str, Any]]) -> None:
        """Match each change once per group of equal bindings, check RLS once per claims, then
        write each subscriber's frames for the whole run at once (in commit order)."""
        if not items or not self._hub.watchers:
            return
        changes: list[Change] = []
        for item in items:
            table = await self._catalog.table(int(item["rel"]))
            if table is None or (table.schema, table.name) not in self._catalog.published:
                continue
            change = Change(item, table)
            op = item["o"]
            row = _image(item) if op != "DELETE" else _identity(item, table)
            for watchers in self._hub.watchers.values():
                matched = [b for b in watchers.bindings if b.matches(table.schema, table.name, op, row)]
                if matched:
                    change.targets.append((list(watchers.channels), [b.id for b in matched], matched[0]))
            if change.targets:
                changes.append(change)
        if changes:
            visible = await self._visibility(changes)
            outbox = Outbox(immediate=len(changes) == 1)  # a lone change has nothing to coalesce
            for index, change in enumerate(changes):
                await self._send(index, change, visible, outbox)
            await outbox.flush()

    async def _visibility(self, changes: list[Change]) -> dict[tuple[str, int], set[int]]:
        """Per (claims, table): indexes into `changes` whose captured row the claims may SELECT."""
        tables: dict[int, tuple[Table, list[int], dict[str, str]]] = {}
        for index, change in enumerate(changes):
            table = change.table
            if not table.rls or not table.pk:
                continue
            subscribers: dict[str, str] | None = None
            for channels, _ids, _binding in change.targets:
                for channel in channels:
                    if channel.role in BYPASS_ROLES:
                        continue
                    if subscribers is None:
                        entry = tables.setdefault(table.relid, (table, [], {}))
                        entry[1].append(index)
                        subscribers = entry[2]
                    subscribers.setdefault(channel.claims_key, channel.role)
        visible: dict[tuple[str, int], set[int]] = {}
        for relid, (table, indexes, subscribers) in tables.items():
            keys = list(subscribers)
            try:
                images = [_image(changes[i].item) for i in indexes]
                rows = await self._pool.fetch(_VISIBLE, relid, images, [[subscribers[k], k] for k in keys])
            except asyncpg.PostgresError:
                log.exception("realtime visibility check failed on %s.%s", table.schema, table.name)
                rows = []
            for key in keys:
                visible[(key, relid)] = set()
            for subscriber, image in rows:
                visible[(keys[subscriber - 1], relid)].add(indexes[image - 1])
        return visible

    async def _send(self, index: int, change: Change, visible: dict[tuple[str, int], set[int]], outbox: Outbox) -> None:
        """Queue the change's frame for every subscriber allowed to see it; the frame is encoded
        once per (role, select, ids, vsn, topic), not per socket."""
        table = change.table
        checked_table = table.rls
        encoded: dict[tuple[str, tuple[str, ...] | None], str] = {}
        for channels, ids, binding in change.targets:
            frames: dict[tuple[str, str, str], Outbound] = {}
            for channel in channels:
                if channel.watch_key is None:  # left or rejoined since the match
                    continue
                role = channel.role
                # Tables without a primary key are never checked, so never visible (see _visibility).
                checked = checked_table and role not in BYPASS_ROLES
                if checked and index not in visible.get((channel.claims_key, table.relid), ()):
                    continue
                connection = channel.connection
                frame_key = (role, connection.vsn, channel.topic)
                frame = frames.get(frame_key)
                if frame is None:
                    data_key = (role, binding.select)
                    data = encoded.get(data_key)
                    if data is None:
                        columns = await self._catalog.selectable(table, role)
                        data = encoded[data_key] = protocol.dumps(
                            _data(change.item, table, columns, binding.select, role)
                        ).decode()
                    payload = f'{{"ids":{protocol.dumps(ids).decode()},"data":{data}}}'
                    frame = frames[frame_key] = Outbound(
                        protocol.encode_push_raw(channel.topic, "postgres_changes", payload, connection.vsn)
                    )
                outbox.add(connection, frame)


def _image(item: dict[str, Any]) -> dict[str, Any]:
    """The row as the change left it, or as it was before a DELETE."""
    image: dict[str, Any] = item["x"] if item["o"] == "DELETE" else item["r"]
    return image


def _identity(item: dict[str, Any], table: Table) -> dict[str, Any]:
    """What a DELETE's filters are matched against, as Realtime matches them (apply_rls's
    `old_columns`, wal2json's `identity`): the deleted row's replica identity, its primary key
    unless the table is REPLICA IDENTITY FULL. A filter on another column matches no DELETE."""
    old: dict[str, Any] = item["x"] or {}
    return old if table.full_identity else {name: old[name] for name in table.pk if name in old}


def _data(
    item: dict[str, Any], table: Table, selectable: frozenset[str], select: tuple[str, ...] | None, role: str
) -> dict[str, Any]:
    op = item["o"]
    stamp = datetime.fromtimestamp(float(item["ts"]), UTC)
    data: dict[str, Any] = {
        "schema": table.schema,
        "table": table.name,
        "commit_timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "type": op,
        "columns": [],
        "errors": None,
    }
    if not selectable:
        data["errors"] = ["Error 401: Unauthorized"]
        return data
    shown = set(selectable)
    if select:
        shown &= set(select) | set(table.pk)
    data["columns"] = [c for c in table.columns if c["name"] in shown]
    names = [c["name"] for c in data["columns"]]
    if op != "DELETE":
        new = item["r"]
        data["record"] = {name: new[name] for name in names if name in new}
    if op != "INSERT":
        # An UPDATE carries its old row only from a REPLICA IDENTITY FULL table (03_realtime_capture.sql);
        # otherwise its old_record is the primary key, the new row's.
        old = item["x"] or (item["r"] if op == "UPDATE" else None) or {}
        keep_all = table.full_identity and not (op == "DELETE" and table.rls and role not in BYPASS_ROLES)
        data["old_record"] = {name: old[name] for name in names if name in old and (keep_all or name in table.pk)}
    return data
