"""Fixtures for the REST tests: supabase-py clients against the running stack, and test-only
tables (ranges, arrays, jsonb, tsvector) created as superuser to exercise every operator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from supabase import Client, create_client

from tests.conftest import LocalStack, SignedUpUser
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
drop table if exists public.rest_thing_labels cascade;
drop table if exists public.rest_labels cascade;
drop table if exists public.rest_things cascade;
drop table if exists public.rest_groups cascade;
create table public.rest_groups (
  id integer primary key,
  name text not null unique
);
create table public.rest_things (
  id integer primary key,
  group_id integer references public.rest_groups (id),
  name text not null,
  score integer,
  tags text[] not null default '{}',
  during int4range,
  data jsonb,
  body text,
  doc tsvector generated always as (to_tsvector('english', coalesce(body, ''))) stored,
  note text default 'fresh'
);
create or replace function public.rest_things_by_min_score(min_score integer) returns setof public.rest_things
language sql stable as $$ select * from public.rest_things where score >= min_score order by id $$;
create or replace function public.rest_add(a integer, b integer) returns integer
language sql immutable as $$ select a + b $$;
create or replace function public.rest_touch() returns void
language sql as $$ update public.rest_things set note = 'touched' where id = 1 $$;
create or replace function public.rest_names() returns setof text
language sql stable as $$ select name from public.rest_things order by id $$;
create or replace function public.rest_echo(payload jsonb) returns jsonb
language sql immutable as $$ select payload $$;
grant all on public.rest_groups, public.rest_things to anon, authenticated, service_role;
insert into public.rest_groups values (1, 'alpha'), (2, 'beta'), (3, 'empty');
insert into public.rest_things (id, group_id, name, score, tags, during, data, body) values
  (1, 1, 'apple', 10, '{red,fruit}', '[1,5)', '{"kind": "fruit", "size": {"w": 3}}', 'the quick brown fox'),
  (2, 1, 'banana', 20, '{yellow,fruit}', '[5,10)', '{"kind": "fruit", "size": {"w": 5}}', 'jumps over the lazy dog'),
  (3, 2, 'carrot', 30, '{orange,vegetable}', '[10,20)', '{"kind": "veg"}', 'quick carrots jump'),
  (4, 2, 'Durian', null, '{}', null, null, null),
  (5, null, 'eggplant, "purple"', 50, '{purple}', '[30,40)', '{"kind": "veg"}', 'the purple eggplant');
-- Many-to-many: rest_thing_labels is a junction (both FKs inside its primary key).
create table public.rest_labels (
  id integer primary key,
  name text not null,
  note text,
  at timestamptz not null default '2024-01-01 12:00:00+00'
);
create table public.rest_thing_labels (
  thing_id integer references public.rest_things (id) on delete cascade,
  label_id integer references public.rest_labels (id) on delete cascade,
  primary key (thing_id, label_id)
);
-- A view renaming FK/PK columns of one base table: relationships are inferred through it.
create view public.rest_things_view as select id as thing_id, group_id as grp, name from public.rest_things;
grant all on public.rest_labels, public.rest_thing_labels, public.rest_things_view
  to anon, authenticated, service_role;
insert into public.rest_labels (id, name, note) values (1, 'red', 'warm'), (2, 'sweet', null), (3, 'unused', null);
insert into public.rest_thing_labels values (1, 1), (1, 2), (2, 2), (3, 1);
"""


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture(scope="session")
def things(stack: LocalStack) -> LocalStack:
    """Create the operator tables once per session and wait until REST's schema cache has them."""

    async def create() -> None:
        conn = await asyncpg.connect(stack.dsn)
        try:
            await conn.execute(FIXTURE_SQL)
        finally:
            await conn.close()

    asyncio.run(create())
    wait_until(
        lambda: (
            httpx.get(
                f"{stack.url}/rest/v1/rest_things?select=id&id=eq.1", headers={"apikey": stack.service_role_key}
            ).status_code
            == 200
        ),
        message="REST to see rest_things",
    )
    return stack


@pytest.fixture(scope="session")
def js(things: LocalStack) -> Iterator[SupabaseJs]:
    """supabase-js in Node against the stack (see tests/localbase/rest/supabase_js.py)."""
    runner = SupabaseJs(things.url, things.anon_key, things.service_role_key)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def service_client(things: LocalStack) -> Client:
    return create_client(things.url, things.service_role_key)


@pytest.fixture
def anon_client(stack: LocalStack) -> Client:
    return create_client(stack.url, stack.anon_key)


@pytest.fixture
def as_user(stack: LocalStack) -> Callable[[SignedUpUser], Client]:
    """A supabase-py client carrying a signed-in user's token on PostgREST requests."""

    def make(user: SignedUpUser) -> Client:
        client = create_client(stack.url, stack.anon_key)
        client.postgrest.auth(user.access_token)
        return client

    return make


@pytest.fixture
def rest(stack: LocalStack) -> Callable[..., httpx.Response]:
    """A raw request to /rest/v1, for what the clients cannot express (bad tokens, odd headers)."""

    def call(path: str, token: str | None = None, method: str = "GET", **kwargs: Any) -> httpx.Response:
        headers = {"apikey": stack.anon_key, **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, f"{stack.url}/rest/v1/{path}", headers=headers, timeout=10, **kwargs)

    return call


def install(stack: LocalStack, sql: str, probe: str) -> None:
    """Run test-only DDL as superuser, then wait until REST's schema cache serves `probe` (a table)."""

    async def run() -> None:
        conn = await asyncpg.connect(stack.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
    wait_until(
        lambda: (
            httpx.get(f"{stack.url}/rest/v1/{probe}?limit=0", headers={"apikey": stack.service_role_key}).status_code
            == 200
        ),
        message=f"REST to see {probe}",
    )


async def superuser_fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
