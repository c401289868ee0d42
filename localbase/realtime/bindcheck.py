"""A postgres_changes binding checked against its table, as Realtime checks a subscription when it
stores it (realtime.subscription_check_filters): every filter and select column is one the
subscriber's role may SELECT, an `eq`/`neq`/`lt`/`lte`/`gt`/`gte`/`isdistinct` value casts to the
column's type (`in`: each value), `is` takes null/true/false/unknown (all but null on a boolean
only), and `like`/`ilike`/`match`/`imatch` need a column type with that operator (text; not
varchar, whose operators are text's). Without this a typo'd column was "Subscribed to PostgreSQL"
and then matched nothing, silently, and a filter could test a column its subscriber cannot read.

The casts run in Postgres, so a value is read exactly as Realtime's cast reads it; the messages are
Realtime's (a cast's own error is Postgres's).
"""

from __future__ import annotations

import asyncpg

from localbase.realtime.catalog import Catalog
from localbase.realtime.filters import Binding, Condition

_IS_VALUES = ("null", "true", "false", "unknown")
_HAS_OPERATOR = (
    "select exists (select 1 from pg_catalog.pg_operator where oprname = $1 and oprleft = $2::regtype"
    " and ($3 or (oprright = $2::regtype and oprresult = 'boolean'::regtype)))"
)
_OPERATORS = {"like": "~~", "ilike": "~~", "match": "~", "imatch": "~*"}


async def refusal(catalog: Catalog, binding: Binding, role: str) -> str | None:
    """Why the table refuses `binding` for `role`, or None. A binding on no one table (a wildcard)
    or on a table not published is left to the caller."""
    if binding.table is None or binding.schema == "*":
        return None
    table = await catalog.named(binding.schema, binding.table)
    if table is None:
        return None
    readable = await catalog.selectable(table, role)
    for condition in binding.conditions:
        if condition.column not in readable:
            return f"invalid column for filter {condition.column}"
        problem = await _value_problem(catalog.pool, condition, table.regtypes[condition.column])
        if problem is not None:
            return problem
    for column in binding.select or ():
        if column not in readable:
            return f"invalid column for select {column}"
    return None


async def _value_problem(pool: asyncpg.Pool, condition: Condition, regtype: str) -> str | None:
    op, value = condition.op, condition.value
    if op == "is":
        if value not in _IS_VALUES:
            return "invalid value for is filter: must be null, true, false, or unknown"
        if value != "null" and regtype != "boolean":
            return f"is {value} filter requires a boolean column, got {regtype}"
        return None
    if op in _OPERATORS:
        if not await pool.fetchval(_HAS_OPERATOR, _OPERATORS[op], regtype, op in ("like", "ilike")):
            return f"operator {op} requires a text-compatible column type, got {regtype}"
        return None
    if op == "in":
        value, regtype = "{" + value.removeprefix("(").removesuffix(")") + "}", f"{regtype}[]"
    try:
        # Prepared afresh each time (`prepare` bypasses asyncpg's statement cache): a cached plan
        # keeps the type's OID, so after the type was dropped and made again (a migration, a reset)
        # every check of it failed with "cache lookup failed for type" until the gateway restarted.
        async with pool.acquire() as conn:
            cast = await conn.prepare(f"select $1::text::{regtype}")  # the catalog's own type name
            await cast.fetchval(value)
    except asyncpg.PostgresError as exc:  # not a value of the type, whatever Postgres calls it
        return str(exc)
    return None
