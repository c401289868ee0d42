"""Computed fields and computed relationships, as PostgREST has them, through both clients.

A function taking one row of a table (or view, or partitioned table) is a column of it when it
returns a scalar (`select=id,rest_full_name`, filterable and orderable), and an embed when it
returns rows of a table: to-many for `setof`, to-one for a single row or `setof ... rows 1`; with
`!inner`, filters and nesting like any embed. `*` does not include computed fields.
"""

from __future__ import annotations

import pytest
from supabase import Client

from tests.conftest import LocalStack
from tests.localbase.rest.conftest import install
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
drop table if exists public.rest_books, public.rest_authors, public.rest_events cascade;
create table public.rest_authors (id integer primary key, first text not null, last text not null);
create table public.rest_books (
  id integer primary key, author_id integer references public.rest_authors (id), title text, pages integer
);
create function public.rest_full_name(public.rest_authors) returns text language sql stable
  as $$ select $1.first || ' ' || $1.last $$;
create function public.rest_long_books(a public.rest_authors) returns setof public.rest_books language sql stable
  as $$ select * from public.rest_books where author_id = a.id and pages > 300 order by id $$;
create function public.rest_first_book(a public.rest_authors) returns setof public.rest_books rows 1
  language sql stable as $$ select * from public.rest_books where author_id = a.id order by id limit 1 $$;
create function public.rest_book_author(b public.rest_books) returns public.rest_authors language sql stable
  as $$ select * from public.rest_authors where id = b.author_id $$;
create view public.rest_authors_view as select id, first, last from public.rest_authors;
create function public.rest_initials(public.rest_authors_view) returns text language sql stable
  as $$ select left($1.first, 1) || left($1.last, 1) $$;
create table public.rest_events (id integer, at date not null, title text, primary key (id, at))
  partition by range (at);
create table public.rest_events_2024 partition of public.rest_events for values from ('2024-01-01') to ('2025-01-01');
create function public.rest_event_month(public.rest_events) returns integer language sql immutable
  as $$ select extract(month from $1.at)::integer $$;
grant all on public.rest_authors, public.rest_books, public.rest_authors_view, public.rest_events
  to anon, authenticated, service_role;
insert into public.rest_authors values (1, 'Ada', 'Lovelace'), (2, 'Alan', 'Turing'), (3, 'Grace', 'Hopper');
insert into public.rest_books values (10, 1, 'Notes', 120), (11, 2, 'Computable Numbers', 400),
  (12, 2, 'Morphogenesis', 650), (13, 3, 'Compilers', 310);
insert into public.rest_events values (1, '2024-03-05', 'spring'), (2, '2024-11-20', 'autumn');
"""


@pytest.fixture(scope="module")
def authors(things: LocalStack) -> LocalStack:
    install(things, FIXTURE_SQL, "rest_events")
    return things


def test_computed_field_as_column_filter_and_order(authors: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    rows = (
        service_client.table("rest_authors")
        .select("id, name:rest_full_name")
        .like("rest_full_name", "A*")
        .order("rest_full_name", desc=True)
        .execute()
    )
    assert rows.data == [{"id": 2, "name": "Alan Turing"}, {"id": 1, "name": "Ada Lovelace"}]
    star = service_client.table("rest_authors").select("*").eq("id", 3).execute()
    assert star.data == [{"id": 3, "first": "Grace", "last": "Hopper"}]  # `*` leaves computed fields out
    result = js.run(
        "return await service.from('rest_authors').select('rest_full_name').eq('rest_full_name', 'Grace Hopper');"
    )
    assert result["data"] == [{"rest_full_name": "Grace Hopper"}]


EXPECTED_EMBEDS = [
    {"first": "Ada", "rest_long_books": [], "rest_first_book": {"title": "Notes"}},
    {
        "first": "Alan",
        "rest_long_books": [
            {"title": "Computable Numbers", "rest_book_author": {"last": "Turing"}},
            {"title": "Morphogenesis", "rest_book_author": {"last": "Turing"}},
        ],
        "rest_first_book": {"title": "Computable Numbers"},
    },
    {
        "first": "Grace",
        "rest_long_books": [{"title": "Compilers", "rest_book_author": {"last": "Hopper"}}],
        "rest_first_book": {"title": "Compilers"},
    },
]
EMBEDS = "first, rest_long_books(title, rest_book_author(last)), rest_first_book(title)"


def test_computed_relationships_embed_and_nest(authors: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    assert service_client.table("rest_authors").select(EMBEDS).order("id").execute().data == EXPECTED_EMBEDS
    result = js.run("return await service.from('rest_authors').select(input.select).order('id');", select=EMBEDS)
    assert result["data"] == EXPECTED_EMBEDS


def test_computed_relationships_with_inner_and_filters(
    authors: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    inner = (
        service_client.table("rest_authors")
        .select("first, rest_long_books!inner(title)")
        .gt("rest_long_books.pages", 500)
        .execute()
    )
    assert inner.data == [{"first": "Alan", "rest_long_books": [{"title": "Morphogenesis"}]}]
    result = js.run(
        """
        return await service.from('rest_authors').select('first, rest_long_books!inner()').order('id');
        """
    )
    assert result["data"] == [{"first": "Alan"}, {"first": "Grace"}]


def test_computed_fields_over_views_and_partitioned_tables(authors: LocalStack, service_client: Client) -> None:
    view = service_client.table("rest_authors_view").select("id, rest_initials").order("id").execute()
    assert view.data == [
        {"id": 1, "rest_initials": "AL"},
        {"id": 2, "rest_initials": "AT"},
        {"id": 3, "rest_initials": "GH"},
    ]
    events = service_client.table("rest_events").select("title, rest_event_month").gte("rest_event_month", 6).execute()
    assert events.data == [{"title": "autumn", "rest_event_month": 11}]
