"""Loading the schema cache from pg_catalog in one read-only transaction.

Type names are read with `search_path = pg_catalog`, so anything outside pg_catalog comes back
schema-qualified and is safe to paste as a type. Views get the keys and foreign keys of the base
columns they show, as PostgREST infers them.
"""

from __future__ import annotations

import asyncpg

from localbase.rest.catalog import UNNAMED_TYPES, Argument, Catalog, Column, ForeignKey, Function, Table, typmod_free

_TABLES = """
select n.nspname as schema, c.relname as name, c.relkind::text as kind
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
"""

# `base` is the column's type with domains resolved to their base type and no length/precision:
# what a filter value (an untyped literal in PostgREST) is read as. `character` and `bit` are
# spelt by their internal names, since `::character` would mean `character(1)`.
_COLUMNS = """
with recursive domains(oid, base) as (
  select oid, typbasetype from pg_type where typtype = 'd'
  union all
  select d.oid, t.typbasetype from domains d join pg_type t on t.oid = d.base and t.typtype = 'd'
)
select n.nspname as schema, c.relname as table, a.attname as name, a.attnum as position,
       format_type(a.atttypid, null) as type, t.typcategory::text as category,
       case bt.typname
         when 'bpchar' then 'pg_catalog.bpchar' when '_bpchar' then 'pg_catalog.bpchar[]'
         when 'bit' then 'pg_catalog."bit"' when '_bit' then 'pg_catalog."bit"[]'
         else format_type(bt.oid, null)
       end as base,
       a.atthasdef as has_default,
       case
         when t.typtype = 'd' and d.adbin is null then pg_get_expr(t.typdefaultbin, 0)
         when a.attidentity = 'd' then format('nextval(%L)',
           pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)::regclass)
         when a.attgenerated = 's' then null
         else pg_get_expr(d.adbin, d.adrelid)
       end as default_expr,
       a.attidentity <> '' or a.attgenerated <> '' as generated
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
join pg_type bt on bt.oid = coalesce(
  (select d.base from domains d join pg_type b on b.oid = d.base where d.oid = a.atttypid and b.typtype <> 'd'),
  a.atttypid)
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
  and a.attnum > 0 and not a.attisdropped
order by n.nspname, c.relname, a.attnum
"""

_KEYS = """
select con.conname as name, con.contype::text as kind,
       n.nspname as schema, c.relname as table,
       array(select a.attname from unnest(con.conkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord) as columns,
       fn.nspname as ref_schema, fc.relname as ref_table,
       array(select a.attname from unnest(con.confkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord) as ref_columns
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where con.contype in ('p', 'u', 'f') and (n.nspname = any($1::text[]) or fn.nspname = any($1::text[]))
"""

_FUNCTIONS = """
select n.nspname as schema, p.proname as name, p.provolatile::text as volatility, p.proretset as returns_set,
       format_type(p.prorettype, null) as return_type, rt.typtype::text as return_kind,
       rn.nspname as return_schema, rc.relname as return_table,
       coalesce(p.proargnames, '{}') as arg_names,
       coalesce(p.proargmodes::text[], array_fill('i'::text, array[p.pronargs])) as arg_modes,
       array(select format_type(t, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t)
         as arg_types,
       p.pronargdefaults as n_defaults, obj_description(p.oid, 'pg_proc') as description,
       p.prorows = 1 as one_row, an.nspname as row_schema, ac.relname as row_table
from pg_proc p
left join pg_type at on at.oid = p.proargtypes[0] and p.pronargs = 1 and at.typtype = 'c'
left join pg_class ac on ac.oid = at.typrelid
left join pg_namespace an on an.oid = ac.relnamespace
join pg_namespace n on n.oid = p.pronamespace
join pg_type rt on rt.oid = p.prorettype
left join pg_class rc on rc.oid = rt.typrelid and rt.typtype = 'c'
left join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any($1::text[]) and p.prokind = 'f' and p.prorettype <> 'trigger'::regtype
"""

_TYPES = """
select format_type(t.oid, null) as name, t.typname as short
from pg_type t join pg_namespace n on n.oid = t.typnamespace
where t.typtype in ('b', 'e', 'd', 'r', 'c', 'm') and not (t.typtype = 'c' and t.typrelid <> 0
      and (select relkind from pg_class where oid = t.typrelid) <> 'c')
  and n.nspname not in ('information_schema', 'pg_toast')
"""

_ROLE_SETTINGS = """
select r.rolname as role, s.setconfig as config
from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase
"""

# A view's output columns traced to base-table columns, read from the view's rewrite rule (the
# planner's `resorigtbl`/`resorigcol` on each top-level target entry), as PostgREST does.
_VIEW_COLUMNS = r"""
select n.nspname as schema, c.relname as view, m[1] as column,
       bn.nspname as base_schema, bc.relname as base_table, ba.attname as base_column
from pg_rewrite r
join pg_class c on c.oid = r.ev_class and c.relkind in ('v', 'm')
join pg_namespace n on n.oid = c.relnamespace
cross join lateral regexp_matches(
  r.ev_action::text,
  ':resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+) :resjunk false', 'g') m
join pg_class bc on bc.oid = m[2]::oid
join pg_namespace bn on bn.oid = bc.relnamespace
join pg_attribute ba on ba.attrelid = bc.oid and ba.attnum = m[3]::int2
where n.nspname = any($1::text[]) and r.rulename = '_RETURN' and m[2] <> '0'
"""

_TIMEZONES = "select name from pg_timezone_names"

_ROLE_GUCS = frozenset({"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "work_mem"})


_CAST_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "integer": "integer",
    "int2": "smallint",
    "smallint": "smallint",
    "int8": "bigint",
    "bigint": "bigint",
    "float": "double precision",
    "float8": "double precision",
    "float4": "real",
    "real": "real",
    "bool": "boolean",
    "varchar": "character varying",
    "char": "character",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "decimal": "numeric",
}


async def load_catalog(conn: asyncpg.Connection, schemas: tuple[str, ...]) -> Catalog:
    """Read the catalog in one transaction with a search_path that makes type names unambiguous."""
    catalog = Catalog()
    wanted = list(schemas)
    async with conn.transaction(readonly=True):
        await conn.execute("set local search_path = pg_catalog")
        for row in await conn.fetch(_TABLES, wanted):
            catalog.tables[(row["schema"], row["name"])] = Table(row["schema"], row["name"], row["kind"])
        for row in await conn.fetch(_COLUMNS, wanted):
            table = catalog.tables.get((row["schema"], row["table"]))
            if table is not None:
                table.columns[row["name"]] = _column(row)
        for row in await conn.fetch(_KEYS, wanted):
            _add_key(catalog, row)
        for row in await conn.fetch(_FUNCTIONS, wanted):
            function = _function(row, catalog)
            if _callable(function):
                catalog.functions.setdefault((function.schema, function.name), []).append(function)
            if row["row_table"] is not None:
                function.one_row = bool(row["one_row"])
                catalog.computed.setdefault((row["row_schema"], row["row_table"]), {})[function.name] = function
        for row in await conn.fetch(_TYPES):
            catalog.types.setdefault(row["short"].lower(), row["name"])
            catalog.types.setdefault(row["name"].lower(), row["name"])
        view_columns = list(await conn.fetch(_VIEW_COLUMNS, wanted))
        catalog.timezones = frozenset(row["name"] for row in await conn.fetch(_TIMEZONES))
        for row in await conn.fetch(_ROLE_SETTINGS):
            for item in row["config"] or []:
                name, _, value = item.partition("=")
                if name in _ROLE_GUCS:
                    catalog.role_settings.setdefault(row["role"], []).append((name, value))
    for overloads in catalog.functions.values():
        overloads.sort(key=Function.sort_key)
    for alias, target in _CAST_ALIASES.items():
        catalog.types[alias] = target
    _add_view_keys(catalog, view_columns)
    return catalog


def _add_view_keys(catalog: Catalog, rows: list[asyncpg.Record]) -> None:
    """Give views the keys and foreign keys of the base columns they show under their own names.

    Only unambiguous columns count (one view column per base column and name). A foreign key
    is copied for every pairing of its two ends with the table itself or a view exposing all
    of that end's columns, so view -> table, table -> view and view -> view embeds all work.
    """
    renames: dict[tuple[str, str], dict[tuple[str, str, str], str]] = {}  # view -> base column -> view column
    seen: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row["schema"], row["view"], row["column"])
        seen[key] = seen.get(key, 0) + 1
    for row in rows:
        if seen[(row["schema"], row["view"], row["column"])] == 1:
            origin = (row["base_schema"], row["base_table"], row["base_column"])
            renames.setdefault((row["schema"], row["view"]), {}).setdefault(origin, row["column"])

    def ends(schema: str, table: str, columns: tuple[str, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
        found = [(schema, table, columns)] if (schema, table) in catalog.tables else []
        for (view_schema, view), mapping in renames.items():
            mapped = tuple(mapping.get((schema, table, column)) for column in columns)
            if all(mapped):
                found.append((view_schema, view, tuple(m for m in mapped if m)))
        return found

    for (view_schema, view), mapping in renames.items():
        target = catalog.tables.get((view_schema, view))
        base_tables = {(schema, table) for schema, table, _ in mapping}
        for schema, name in base_tables:
            base = catalog.tables.get((schema, name))
            if target is None or base is None:
                continue
            for unique in base.unique_keys:
                mapped = tuple(mapping.get((schema, name, column)) for column in unique)
                if all(mapped):
                    columns = tuple(m for m in mapped if m)
                    target.unique_keys.append(columns)
                    if unique == base.primary_key and not target.primary_key:
                        target.primary_key = columns
    for fk in list(catalog.foreign_keys):
        for schema, table, columns in ends(fk.schema, fk.table, fk.columns):
            for ref_schema, ref_table, ref_columns in ends(fk.ref_schema, fk.ref_table, fk.ref_columns):
                if (schema, table, ref_schema, ref_table) != (fk.schema, fk.table, fk.ref_schema, fk.ref_table):
                    catalog.foreign_keys.append(
                        ForeignKey(fk.name, schema, table, columns, ref_schema, ref_table, ref_columns)
                    )


def _column(row: asyncpg.Record) -> Column:
    return Column(
        row["name"],
        row["type"],
        row["category"],
        row["has_default"],
        row["default_expr"],
        row["generated"],
        row["base"],
    )


def _add_key(catalog: Catalog, row: asyncpg.Record) -> None:
    table = catalog.tables.get((row["schema"], row["table"]))
    columns = tuple(row["columns"])
    if row["kind"] == "p" and table is not None:
        table.primary_key = columns
        table.unique_keys.append(columns)
    elif row["kind"] == "u" and table is not None:
        table.unique_keys.append(columns)
    elif row["kind"] == "f":
        catalog.foreign_keys.append(
            ForeignKey(
                row["name"],
                row["schema"],
                row["table"],
                columns,
                row["ref_schema"],
                row["ref_table"],
                tuple(row["ref_columns"]),
            )
        )


def _callable(function: Function) -> bool:
    """PostgREST caches a function only if all its parameters are named, or exactly one is not and
    the first parameter's type is one a raw body can carry."""
    unnamed = [a for a in function.args if not a.name]
    return not unnamed or (len(unnamed) == 1 and function.args[0].type in UNNAMED_TYPES)


def _function(row: asyncpg.Record, catalog: Catalog) -> Function:
    names: list[str] = list(row["arg_names"])
    modes: list[str] = list(row["arg_modes"])
    types: list[str] = list(row["arg_types"])
    inputs: list[tuple[str, str]] = []
    outputs: dict[str, Column] = {}
    for index, mode in enumerate(modes):
        name = names[index] if index < len(names) else ""
        if mode in ("i", "b", "v"):
            inputs.append((name, types[index]))
        if mode in ("o", "b", "t"):
            outputs[name] = Column(name, types[index], "", False, None, False, typmod_free(types[index]))
    n_defaults = int(row["n_defaults"])
    args = tuple(Argument(name, type_, index >= len(inputs) - n_defaults) for index, (name, type_) in enumerate(inputs))
    kind = "scalar"
    columns: dict[str, Column] = {}
    if row["return_type"] == "void":
        kind = "void"
    elif row["return_table"] is not None:
        kind = "composite"
        source = catalog.tables.get((row["return_schema"], row["return_table"]))
        columns = dict(source.columns) if source is not None else {}
    elif row["return_type"] == "record" and outputs:
        kind = "composite"
        columns = outputs
    function = Function(
        row["schema"],
        row["name"],
        row["volatility"],
        row["returns_set"],
        row["return_type"],
        kind,
        args,
        columns,
        row["description"],
    )
    if row["return_table"] is not None:
        function.return_relation = (row["return_schema"], row["return_table"])
    return function
