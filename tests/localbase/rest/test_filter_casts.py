"""Filter values are read as the column's type exactly as PostgREST reads them.

PostgREST sends every filter value as an untyped literal, so PostgreSQL reads it the way it reads
`col = 'value'`: as the column's type without its length or precision (`character(2)` compares
as `bpchar`, never `character(1)`), domains as their base type. The oracle here is PostgreSQL
itself: the same filter written with an untyped literal, run directly. A property test draws
(column, operator, value) across the types and compares the rows (or the error code) that
supabase-py gets with the oracle's; a fixed table of cases runs through supabase-js too.
`make test` draws derandomized (the same examples every run); `CG_FUZZ=1` (as `make fuzz` sets)
draws 1,000 fresh ones: `CG_FUZZ=1 .venv/bin/python -m pytest tests/localbase/rest/test_filter_casts.py`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import LocalStack, rows_of
from tests.localbase.rest.conftest import install
from tests.localbase.rest.supabase_js import SupabaseJs

TYPED_SQL = """
drop table if exists public.rest_typed cascade;
drop domain if exists public.rest_positive cascade;
drop domain if exists public.rest_short cascade;
drop type if exists public.rest_mood cascade;
create domain public.rest_positive as integer check (value > 0);
create domain public.rest_short as varchar(3);
create type public.rest_mood as enum ('sad', 'ok', 'happy');
create table public.rest_typed (
  id integer primary key,
  iso character(2),
  code varchar(5),
  amount numeric(6,2),
  flags bit(3),
  vflags bit varying(5),
  pos public.rest_positive,
  short public.rest_short,
  mood public.rest_mood,
  letters character(2)[],
  nums integer[],
  at time,
  day date,
  ts timestamp(0),
  tstz timestamptz,
  span interval,
  uid uuid,
  doc jsonb,
  raw json,
  addr inet,
  during int4range,
  name text
);
grant all on public.rest_typed to anon, authenticated, service_role;
insert into public.rest_typed values
  (1, 'DZ', 'abc', 1.5, '101', '1', 1, 'ab', 'sad', '{DZ,FR}', '{1,2}', '12:00', '2024-01-01',
   '2024-01-01 12:00:00', '2024-01-01 12:00:00+00', '1 day', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": 1}', '{"a": 1}', '10.0.0.1', '[1,5)', 'apple'),
  (2, 'FR', 'abcde', 2.25, '111', '101', 5, 'abc', 'happy', '{FR}', '{2}', '12:30:15', '2024-02-29',
   '2024-02-29 23:59:59', '2024-02-29 23:59:59+05', '24 hours', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
   '[1, 2]', '[1, 2]', '10.1.2.3/16', '[5,10)', 'Banana'),
  (3, 'D', 'x', 1000, '000', '11111', 2, 'z', 'ok', '{D}', '{}', '00:00', '1999-12-31',
   '1999-12-31 00:00:00', '1999-12-31 00:00:00-08', '00:00:01', null, '"x"', '"x"', '::1', 'empty', 'a*b'),
  (4, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
   null, null, null, null, null);
"""

# Operators as supabase-py/-js send them, and the SQL PostgREST writes for each.
SIMPLE = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
    "match": "~",
    "imatch": "~*",
}
PATTERN = {"like": "like", "ilike": "ilike"}
QUANTIFIABLE = ("eq", "gt", "lt", "like", "ilike")
IS = {"null": "is null", "not_null": "is not null", "true": "is true", "false": "is false", "unknown": "is unknown"}

VALUES: dict[str, list[str]] = {
    "iso": ["DZ", "FR", "dz", "DZ ", "D", "DZA", "D*", "*Z", "[DF]Z"],
    "code": ["abc", "abcde", "abcdef", "ABC", "a*", "*c*", "x"],
    "amount": ["1.5", "1.50", "1.234", "1.25", "2.25", "1000", "1e3", "abc", "-0"],
    "flags": ["101", "1010", "10", "111", "000", "102"],
    "vflags": ["1", "10", "101", "11111", "111111"],
    "pos": ["1", "5", "0", "-3", "2", "x"],
    "short": ["ab", "abc", "abcd", "z", "a*"],
    "mood": ["sad", "ok", "happy", "angry", "SAD"],
    "letters": ["{DZ}", "{DZ,FR}", "{FR}", "{D}", "{DZ,FR,D}", "{}", "DZ"],
    "nums": ["{1,2}", "{2}", "{}", "{1,2,3}", "{1}", "1"],
    "at": ["12:00", "12:00:00.5", "12:30:15", "00:00", "25:00", "noon"],
    "day": ["2024-01-01", "2024-02-29", "2024-02-30", "1999-12-31", "20240101"],
    "ts": ["2024-01-01 12:00:00", "2024-01-01 12:00:00.4", "2024-02-29T23:59:59", "1999-12-31", "x"],
    "tstz": ["2024-01-01 12:00:00+00", "2024-01-01T12:00:00Z", "2024-01-01 13:00+01", "2024-02-29 18:59:59Z", "y"],
    "span": ["1 day", "24 hours", "P1D", "1 second", "00:00:01", "zz"],
    "uid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "not-a-uuid", "a*"],
    "doc": ['{"a":1}', '{"a": 1}', "[1]", "1", '"x"', "{}", "x"],
    "raw": ['{"a":1}', '"x"'],
    "addr": ["10.0.0.1", "10.0.0.0/8", "10.1.0.0/16", "::1", "bad"],
    "during": ["[1,5)", "[2,3)", "3", "empty", "[0,100]", "(,)"],
    "name": ["apple", "a*", "*an*", "Banana", "banana", "a\\*b", "[ab]"],
}
OPERATORS = [*SIMPLE, *PATTERN, "in", "isdistinct", "is"]


def quoted(text: str) -> str:
    """An untyped SQL literal (standard_conforming_strings is on)."""
    return "'" + text.replace("'", "''") + "'"


def array_literal(items: list[str]) -> str:
    """PostgREST's array literal for `in` (every element double-quoted, \\ and " escaped)."""
    escaped = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(escaped) + "}"


def oracle_sql(column: str, op: str, value: str, quantifier: str | None) -> str:
    """The WHERE clause PostgREST writes, with the value as an untyped literal."""
    col = f'"{column}"'
    if op == "is":
        return f"{col} {IS[value]}"
    if op == "in":
        return f"{col} = any({quoted(array_literal(split_list(value)))})"
    if op == "isdistinct":
        return f"{col} is distinct from {quoted(value)}"
    text = value.replace("*", "%") if op in PATTERN else value
    sql_op = PATTERN.get(op) or SIMPLE[op]
    if quantifier:
        return f"{col} {sql_op} {quantifier}({quoted(text)})"
    return f"{col} {sql_op} {quoted(text)}"


def split_list(value: str) -> list[str]:
    inner = value[1:-1]
    return inner.split(",") if inner else []


def request_value(op: str, values: list[str], quantifier: str | None) -> str:
    if op == "in":
        return "(" + ",".join(values) + ")"
    if quantifier:
        return "{" + ",".join(values) + "}"
    return values[0]


class Oracle:
    """PostgreSQL itself on one connection: which rows match, or which SQLSTATE it raises."""

    def __init__(self, dsn: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._loop.run_until_complete(asyncpg.connect(dsn))

    def __call__(self, column: str, op: str, value: str, quantifier: str | None) -> tuple[list[int] | None, str | None]:
        where = oracle_sql(column, op, value, quantifier)
        try:
            rows = self._loop.run_until_complete(
                self._conn.fetch(f"select id from public.rest_typed where {where} order by id")
            )
        except asyncpg.PostgresError as exc:
            return None, str(exc.sqlstate)
        return [row["id"] for row in rows], None

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


@pytest.fixture(scope="module")
def typed(things: LocalStack) -> LocalStack:
    install(things, TYPED_SQL, "rest_typed")
    return things


@pytest.fixture(scope="module")
def oracle(typed: LocalStack) -> Iterator[Oracle]:
    found = Oracle(typed.dsn)
    try:
        yield found
    finally:
        found.close()


def py_filter(client: Client, column: str, op: str, value: str) -> tuple[list[int] | None, str | None]:
    try:
        response = client.table("rest_typed").select("id").filter(column, op, value).order("id").execute()
    except APIError as error:
        return None, error.code
    return [row["id"] for row in rows_of(response.data)], None


# An operator that does not apply to the column's type at all (`cd` on a scalar, `sl` on a bit
# string, `in` on an array column): PostgreSQL's resolution of an untyped literal reports it as
# ambiguous (42725), of the wrong result type (42804) or without an array type (42704); this layer
# reads the value as the column's type first and reports 42883. Both are errors the client sees
# before anything runs; docs/REST.md lists the difference.
NOT_APPLICABLE = frozenset({"42725", "42804", "42704"})


def same_outcome(got: tuple[list[int] | None, str | None], expected: tuple[list[int] | None, str | None]) -> bool:
    if expected[1] is None or got[1] == expected[1]:
        return got == expected
    if got[0] is not None:
        return False
    # `pos=sl.x` (integer << ...: not a boolean, 42804): PostgreSQL reads the literal first (22P02).
    return (expected[1] in NOT_APPLICABLE and got[1] in ("42883", "42804")) or (got[1], expected[1]) == (
        "42804",
        "22P02",
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, str, str | None]:
    column = draw(st.sampled_from(sorted(VALUES)))
    op = draw(st.sampled_from(OPERATORS))
    quantifier = draw(st.sampled_from([None, "any", "all"])) if op in QUANTIFIABLE else None
    if op == "is":
        return column, op, draw(st.sampled_from(sorted(IS))), None
    pool = VALUES[column]
    if op == "in" or quantifier:
        listable = [v for v in pool if not set(v) & set(',(){}"\\ ')]
        picked = draw(st.lists(st.sampled_from(listable), max_size=3)) if listable else []
        return column, op, request_value(op, picked, quantifier), quantifier
    return column, op, draw(st.sampled_from(pool)), None


FUZZ = bool(os.environ.get("CG_FUZZ"))  # as `make fuzz` sets it


@settings(
    derandomize=not FUZZ,
    max_examples=1000 if FUZZ else 150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
@example(case=("iso", "eq", "DZ", None))
@example(case=("iso", "in", "(DZ,FR)", None))
@example(case=("letters", "cs", "{DZ}", None))
@example(case=("amount", "eq", "1.234", None))
@example(case=("flags", "eq", "1010", None))
@example(case=("pos", "eq", "-3", None))
@example(case=("iso", "like", "D*", None))
@example(case=("amount", "like", "1*", None))
@example(case=("pos", "sl", "x", None))  # found by CG_FUZZ=1
def test_filters_read_values_as_postgrest_does(
    oracle: Oracle, service_client: Client, case: tuple[str, str, str, str | None]
) -> None:
    column, op, value, quantifier = case
    operator = f"{op}({quantifier})" if quantifier else op
    expected = oracle(column, op, value, quantifier)
    got = py_filter(service_client, column, operator, value)
    assert same_outcome(got, expected), (column, operator, value, got, expected)


# (column, operator, value, rows) that PostgREST answers, and that this layer answered wrongly
# or differently before: fixed lengths, precision, bit strings, domains, enum order, arrays.
FIXED = [
    ("iso", "eq", "DZ", [1]),
    ("iso", "eq", "DZ ", [1]),
    ("iso", "in", "(DZ,FR)", [1, 2]),
    ("iso", "gt", "DZ", [2]),
    ("iso", "like", "D*", [1, 3]),
    ("letters", "cs", "{DZ}", [1]),
    ("letters", "eq", "{FR}", [2]),
    ("code", "eq", "abcdef", []),
    ("short", "eq", "abcd", []),
    ("amount", "eq", "1.50", [1]),
    ("amount", "gt", "1.234", [1, 2, 3]),
    ("flags", "eq", "101", [1]),
    ("flags", "eq", "1010", []),
    ("vflags", "eq", "101", [2]),
    ("pos", "eq", "-3", []),
    ("pos", "gte", "2", [2, 3]),
    ("mood", "gt", "sad", [2, 3]),
    ("nums", "ov", "{2,3}", [1, 2]),
    ("at", "gt", "12:00:00.5", [2]),
    ("ts", "eq", "2024-01-01 12:00:00.4", []),
    ("tstz", "eq", "2024-01-01 13:00+01", [1]),
    ("span", "eq", "24 hours", [1, 2]),
    ("uid", "eq", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", [1]),
    ("doc", "cs", '{"a":1}', [1]),
    ("addr", "sl", "10.0.0.0/8", [1, 2]),
    ("during", "adj", "[10,12)", [2]),
    ("name", "ilike", "*AN*", [2]),
]
# (column, operator, value, code): the errors PostgREST answers.
FIXED_ERRORS = [
    ("amount", "like", "1*", "42883"),
    ("uid", "eq", "not-a-uuid", "22P02"),
    ("mood", "eq", "angry", "22P02"),
    ("raw", "eq", '{"a":1}', "42883"),
    ("flags", "eq", "102", "22P02"),
]


@pytest.mark.parametrize("case", FIXED)
def test_fixed_cases_through_supabase_py(
    oracle: Oracle, service_client: Client, case: tuple[str, str, str, list[int]]
) -> None:
    column, op, value, rows = case
    assert oracle(column, op, value, None) == (rows, None)
    assert py_filter(service_client, column, op, value) == (rows, None)


def test_fixed_cases_through_supabase_js(typed: LocalStack, js: SupabaseJs) -> None:
    cases = [[c, o, v] for c, o, v, _ in FIXED] + [[c, o, v] for c, o, v, _ in FIXED_ERRORS]
    results: list[dict[str, Any]] = js.run(
        """
        const out = [];
        for (const [column, op, value] of input.cases) {
          const { data, error, status } = await service.from('rest_typed').select('id')
            .filter(column, op, value).order('id');
          out.push({ ids: data && data.map((row) => row.id), code: error && error.code, status });
        }
        return out;
        """,
        cases=cases,
    )
    expected: list[dict[str, object]] = [{"ids": rows, "code": None, "status": 200} for *_, rows in FIXED]
    expected += [{"ids": None, "code": code, "status": 404 if code == "42883" else 400} for *_, code in FIXED_ERRORS]
    assert results == expected


def test_operator_errors_say_what_postgresql_says(oracle: Oracle, service_client: Client) -> None:
    with pytest.raises(APIError) as failure:
        service_client.table("rest_typed").select("id").like("amount", "1*").execute()
    assert failure.value.code == "42883"
    assert failure.value.message == "operator does not exist: numeric ~~ unknown"
    for column, op, value, code in FIXED_ERRORS:
        assert oracle(column, op, value, None) == (None, code)
        assert py_filter(service_client, column, op, value) == (None, code)


def test_json_paths_on_other_types_read_to_jsonb(typed: LocalStack, service_client: Client) -> None:
    """As PostgREST: `nums->0` on an integer[] column is `to_jsonb(nums)->0`."""
    rows = service_client.table("rest_typed").select("id, first:nums->0").eq("nums->>0", "2").execute()
    assert rows.data == [{"id": 2, "first": 2}]
