"""Bring a database to the project's schema: Supabase's base, then migrations/ in name order.

Applied migrations are recorded in `supabase_migrations.schema_migrations`, the table the
Supabase CLI itself keeps, so each file runs once per database, and a database migrated by
`supabase db push` is recognised here too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BASE_SQL_DIR = Path(__file__).resolve().parent / "sql"

_LEDGER = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
"""


def base_sql_files() -> list[tuple[str, str]]:
    """The local stand-ins for what hosted Supabase creates before any migration."""
    return [(path.name, path.read_text(encoding="utf-8")) for path in sorted(BASE_SQL_DIR.glob("*.sql"))]


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def _version_and_name(path: Path) -> tuple[str, str]:
    version, _, name = path.stem.partition("_")
    return version, name


async def apply_base(conn: asyncpg.Connection) -> None:
    """Apply the Supabase base schema (idempotent, safe to run on every start)."""
    for name, sql in base_sql_files():
        log.debug("applying base %s", name)
        await conn.execute(sql)


async def apply_migrations(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply each not-yet-recorded migration in its own transaction; return the versions applied."""
    await conn.execute(_LEDGER)
    done = {row["version"] for row in await conn.fetch("select version from supabase_migrations.schema_migrations")}
    applied: list[str] = []
    for path in migration_files(directory):
        version, name = _version_and_name(path)
        if version in done:
            continue
        sql = path.read_text(encoding="utf-8")
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
                version,
                name,
                [sql],
            )
        log.info("applied migration", extra={"version": version, "migration": name})
        applied.append(version)
    return applied


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        await apply_base(conn)
        return await apply_migrations(conn, directory)
    finally:
        await conn.close()
