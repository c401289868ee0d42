"""What the change fan-out needs to know about published tables, cached until DDL.

The capture SQL notifies `{"k":"d"}` after DDL that can change publication membership, columns,
grants or policies; the cache is dropped then, in order with the changes around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

_TABLE = """
select c.oid::int as relid, n.nspname as schema, c.relname as name, c.relrowsecurity as rls,
       c.relreplident = 'f' as full_identity,
       array(select a.attname::text from pg_attribute a
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as names,
       array(select t.typname::text from pg_attribute a join pg_type t on t.oid = a.atttypid
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as types,
       array(select a.atttypid::regtype::text from pg_attribute a
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as regtypes,
       array(select a.attname::text from pg_index i
               join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
              where i.indrelid = c.oid and i.indisprimary order by a.attnum) as pk
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.oid = $1
"""

_SELECTABLE = """
select a.attname::text from pg_attribute a
 where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
   and has_column_privilege($2, a.attrelid, a.attnum, 'SELECT')
 order by a.attnum
"""

_NAMED = "select to_regclass(format('%I.%I', $1::text, $2::text))::oid::int"

_PUBLISHED = "select schemaname::text, tablename::text from pg_publication_tables where pubname = 'supabase_realtime'"


@dataclass
class Table:
    relid: int
    schema: str
    name: str
    rls: bool
    full_identity: bool
    columns: list[dict[str, str]]
    pk: list[str]
    regtypes: dict[str, str]  # each column's type as SQL names it (a cast's target)
    selectable: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def regclass(self) -> str:
        """The table's quoted name for the visibility function (taken from the catalog)."""
        return '"{}"."{}"'.format(self.schema.replace('"', '""'), self.name.replace('"', '""'))


class Catalog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = self.pool = pool
        self._tables: dict[int, Table] = {}
        self._named: dict[tuple[str, str], int] = {}
        self.published: set[tuple[str, str]] = set()

    async def refresh(self) -> None:
        """Forget everything and reload publication membership."""
        self._tables.clear()
        self._named.clear()
        rows = await self._pool.fetch(_PUBLISHED)
        self.published = {(row[0], row[1]) for row in rows}

    async def is_published(self, schema: str, name: str) -> bool:
        """Whether the table is in the publication: the cache's word, else Postgres's now. A join
        can come before the DDL notification of the table's `alter publication ... add` is read
        (they travel apart), and Realtime reads the publication when it stores a subscription."""
        if (schema, name) in self.published:
            return True
        rows = await self._pool.fetch(_PUBLISHED)
        self.published = {(row[0], row[1]) for row in rows}
        return (schema, name) in self.published

    async def table(self, relid: int) -> Table | None:
        table = self._tables.get(relid)
        if table is None:
            row = await self._pool.fetchrow(_TABLE, relid)
            if row is None:
                return None
            columns = [{"name": n, "type": t} for n, t in zip(row["names"], row["types"], strict=True)]
            regtypes = dict(zip(row["names"], row["regtypes"], strict=True))
            table = Table(
                row["relid"], row["schema"], row["name"], row["rls"], row["full_identity"], columns, row["pk"], regtypes
            )
            self._tables[relid] = table
        return table

    async def named(self, schema: str, name: str) -> Table | None:
        """A table by its schema and name (None if there is none)."""
        relid = self._named.get((schema, name))
        if relid is None:
            relid = await self._pool.fetchval(_NAMED, schema, name)
            if relid is None:
                return None
            self._named[(schema, name)] = relid
        return await self.table(relid)

    async def selectable(self, table: Table, role: str) -> frozenset[str]:
        """Columns `role` may SELECT (empty: the role may not read the table at all)."""
        columns = table.selectable.get(role)
        if columns is None:
            try:
                rows = await self._pool.fetch(_SELECTABLE, table.relid, role)
            except asyncpg.UndefinedObjectError:  # a role that does not exist reads nothing
                rows = []
            columns = frozenset(row[0] for row in rows)
            table.selectable[role] = columns
        return columns
