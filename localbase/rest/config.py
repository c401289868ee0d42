"""The REST settings a request obeys: the environment's, overridden by PostgREST's in-database config.

PostgREST reads `pgrst.*` settings of its authenticator role (`alter role authenticator set
pgrst.db_max_rows = '50'`, for every database or `in database` one, the database's winning) at
start and on `NOTIFY pgrst, 'reload config'`; values in the database override the environment.
The ones honoured here: db_plan_enabled, db_aggregates_enabled, db_max_rows, db_tx_end. A value
that does not parse keeps the environment's (and is logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import asyncpg

from core.settings import LocalbaseSettings

log = logging.getLogger(__name__)

# PostgREST's own query (Config/Database.hs, `dbSettingsStatement`), for the authenticator role.
_DB_SETTINGS = """
with role_setting as (
  select setdatabase as database, unnest(setconfig) as setting from pg_catalog.pg_db_role_setting
  where setrole = 'authenticator'::regrole
    and setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_catalog))
), kv as (
  select database, substr(setting, 1, strpos(setting, '=') - 1) as k, substr(setting, strpos(setting, '=') + 1) as v
  from role_setting where setting like 'pgrst.%'
)
select distinct on (key) replace(k, 'pgrst.', '') as key, v as value from kv where v is not null
order by key, database desc nulls last
"""
_TX_ENDS = frozenset({"commit", "commit-allow-override", "rollback", "rollback-allow-override"})


@dataclass(frozen=True, slots=True)
class RestConfig:
    max_rows: int
    tx_end: str
    plan_enabled: bool
    aggregates_enabled: bool

    @classmethod
    def from_settings(cls, local: LocalbaseSettings) -> RestConfig:
        return cls(local.max_rows, local.rest_tx_end, local.rest_plan_enabled, local.rest_aggregates_enabled)

    @property
    def tx_override(self) -> bool:
        return self.tx_end.endswith("-allow-override")

    @property
    def rollback_by_default(self) -> bool:
        return self.tx_end.startswith("rollback")

    def with_database(self, values: dict[str, str]) -> RestConfig:
        config = self
        for key, value in values.items():
            try:
                config = _apply(config, key, value.strip())
            except ValueError:
                log.warning("ignoring in-database setting pgrst.%s = %r", key, value)
        return config


def _apply(config: RestConfig, key: str, value: str) -> RestConfig:
    if key == "db_max_rows":
        return replace(config, max_rows=int(value))
    if key == "db_tx_end":
        if value not in _TX_ENDS:
            raise ValueError(value)
        return replace(config, tx_end=value)
    if key == "db_plan_enabled":
        return replace(config, plan_enabled=_boolean(value))
    if key == "db_aggregates_enabled":
        return replace(config, aggregates_enabled=_boolean(value))
    return config


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "on", "yes", "1"):
        return True
    if lowered in ("false", "off", "no", "0"):
        return False
    raise ValueError(value)


async def load_database_settings(conn: asyncpg.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in await conn.fetch(_DB_SETTINGS)}
