"""Embedding beyond a plain foreign key, PostgREST's error bodies, and CSV, through both clients.

- Embeds named by a foreign-key column (`author_id(name)`) or hinted by a column or a constraint;
  a self-referencing key read as PostgREST reads it (`manager_id(*)` the parent, the table name
  the children); an empty embed `rel()` that only filters; spreads on a to-many relationship
  (arrays); one name embedded twice is PostgreSQL's 42712, as PostgREST lets it through.
- PGRST201's details list the relationships as `{cardinality, embedding, relationship}` and its
  hint names each `table!constraint`; PGRST200's hint is PostgREST's "Perhaps you meant".
- CSV is the first row's keys, then each row as PostgreSQL prints a record.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.conftest import LocalStack
from tests.localbase.rest.conftest import install, superuser_fetch
from tests.localbase.rest.supabase_js import SupabaseJs

FIXTURE_SQL = """
drop table if exists public.rest_posts, public.rest_people, public.rest_csv cascade;
create table public.rest_people (
  id integer primary key,
  name text not null,
  manager_id integer references public.rest_people (id)
);
create table public.rest_posts (
  id integer primary key,
  title text not null,
  author_id integer not null,
  editor_id integer,
  constraint rest_posts_author_fkey foreign key (author_id) references public.rest_people (id),
  constraint rest_posts_editor_fkey foreign key (editor_id) references public.rest_people (id)
);
create or replace function public.rest_posts_titled(pattern text) returns setof public.rest_posts
  language sql stable as $$ select * from public.rest_posts where title like replace(pattern, '*', '%') order by id $$;
create table public.rest_csv (id integer primary key, label text, doc jsonb, at timestamptz, flag boolean);
grant all on public.rest_people, public.rest_posts, public.rest_csv to anon, authenticated, service_role;
insert into public.rest_people values (1, 'Ann', null), (2, 'Bob', 1), (3, 'Cy', 1);
insert into public.rest_posts values (10, 'hello', 2, 1), (11, 'world', 3, null);
insert into public.rest_csv values
  (1, 'plain', '{"b": 1, "a": [1, 2]}', '2024-01-01 12:00:00+00', true),
  (2, 'comma, "quoted"', null, null, false),
  (3, '', '"text"', '2024-06-30 23:59:59.5+00', null);
"""


@pytest.fixture(scope="module")
def people(things: LocalStack) -> LocalStack:
    install(things, FIXTURE_SQL, "rest_csv")
    return things


def api_error(error: APIError) -> dict[str, Any]:
    return {"code": error.code, "details": error.details, "hint": error.hint, "message": error.message}


AMBIGUOUS = {
    "code": "PGRST201",
    "details": [
        {
            "cardinality": "many-to-one",
            "embedding": "rest_posts with rest_people",
            "relationship": "rest_posts_author_fkey using rest_posts(author_id) and rest_people(id)",
        },
        {
            "cardinality": "many-to-one",
            "embedding": "rest_posts with rest_people",
            "relationship": "rest_posts_editor_fkey using rest_posts(editor_id) and rest_people(id)",
        },
    ],
    "hint": "Try changing 'rest_people' to one of the following: 'rest_people!rest_posts_author_fkey', "
    "'rest_people!rest_posts_editor_fkey'. Find the desired relationship in the 'details' key.",
    "message": "Could not embed because more than one relationship was found for 'rest_posts' and 'rest_people'",
}
NO_RELATIONSHIP = {
    "code": "PGRST200",
    "details": "Searched for a foreign key relationship between 'rest_posts' and 'rest_peple' in the schema "
    "'public', but no matches were found.",
    "hint": "Perhaps you meant 'rest_people' instead of 'rest_peple'.",
    "message": "Could not find a relationship between 'rest_posts' and 'rest_peple' in the schema cache",
}
DUPLICATE = {
    "code": "42712",
    "details": None,
    "hint": None,
    "message": 'table name "rest_posts_rest_people_1" specified more than once',
}


def test_pgrst200_201_and_42712_through_supabase_py(people: LocalStack, service_client: Client) -> None:
    posts = service_client.table("rest_posts")
    with pytest.raises(APIError) as ambiguous:
        posts.select("id, rest_people(name)").execute()
    assert api_error(ambiguous.value) == AMBIGUOUS
    with pytest.raises(APIError) as missing:
        posts.select("id, rest_peple(name)").execute()
    assert api_error(missing.value) == NO_RELATIONSHIP
    with pytest.raises(APIError) as twice:
        posts.select("id, rest_people!rest_posts_author_fkey(name), rest_people!editor_id(name)").execute()
    assert api_error(twice.value) == DUPLICATE


def test_pgrst200_201_and_42712_through_supabase_js(people: LocalStack, js: SupabaseJs) -> None:
    result = js.run(
        """
        const posts = () => service.from('rest_posts');
        const out = [];
        for (const select of ['id, rest_people(name)', 'id, rest_peple(name)',
                              'id, rest_people!rest_posts_author_fkey(name), rest_people!editor_id(name)']) {
          const { status, error } = await posts().select(select);
          out.push({ status, error });
        }
        return out;
        """
    )
    assert result == [
        {"status": 300, "error": AMBIGUOUS},
        {"status": 400, "error": NO_RELATIONSHIP},
        {"status": 400, "error": DUPLICATE},
    ]


def test_embeds_by_column_constraint_and_hint(people: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    select = (
        "title, author:author_id(name), editor:rest_people!editor_id(name), "
        "writer:rest_people!rest_posts_author_fkey(id)"
    )
    expected = [
        {"title": "hello", "author": {"name": "Bob"}, "editor": {"name": "Ann"}, "writer": {"id": 2}},
        {"title": "world", "author": {"name": "Cy"}, "editor": None, "writer": {"id": 3}},
    ]
    assert service_client.table("rest_posts").select(select).order("id").execute().data == expected
    result = js.run("return await service.from('rest_posts').select(input.select).order('id');", select=select)
    assert (result["status"], result["data"]) == (200, expected)


def test_self_referencing_key_has_a_parent_and_children(
    people: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    select = "name, manager:manager_id(name), reports:rest_people(name), team:rest_people!manager_id(id)"
    rows = (
        service_client.table("rest_people")
        .select(select)
        .order("id")
        .order("id", foreign_table="reports")
        .order("id", foreign_table="team")
        .execute()
    )
    expected = [
        {"name": "Ann", "manager": None, "reports": [{"name": "Bob"}, {"name": "Cy"}], "team": [{"id": 2}, {"id": 3}]},
        {"name": "Bob", "manager": {"name": "Ann"}, "reports": [], "team": []},
        {"name": "Cy", "manager": {"name": "Ann"}, "reports": [], "team": []},
    ]
    assert rows.data == expected
    result = js.run(
        """
        return await service.from('rest_people').select(input.select).order('id')
          .order('id', { referencedTable: 'reports' }).order('id', { referencedTable: 'team' });
        """,
        select=select,
    )
    assert result["data"] == expected


def test_empty_embed_only_filters(people: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    inner = service_client.table("rest_posts").select("title, rest_people!editor_id!inner()").execute()
    assert inner.data == [{"title": "hello"}]
    filtered = (
        service_client.table("rest_posts").select("title, rest_people!editor_id()").is_("rest_people", "null").execute()
    )
    assert filtered.data == [{"title": "world"}]
    result = js.run(
        "return await service.from('rest_posts').select('title, rest_people!editor_id()')"
        ".not('rest_people', 'is', null);"
    )
    assert result["data"] == [{"title": "hello"}]


def test_spread_on_a_to_many_relationship(people: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    select = "name, ...rest_posts!rest_posts_author_fkey(title, post:id)"
    expected = [
        {"name": "Ann", "title": [], "post": []},
        {"name": "Bob", "title": ["hello"], "post": [10]},
        {"name": "Cy", "title": ["world"], "post": [11]},
    ]
    assert service_client.table("rest_people").select(select).order("id").execute().data == expected
    result = js.run("return await service.from('rest_people').select(input.select).order('id');", select=select)
    assert result["data"] == expected


def postgres_csv(stack: LocalStack) -> str:
    """The oracle: PostgreSQL's own record output for the same rows."""
    rows = asyncio.run(
        superuser_fetch(
            stack.dsn, "select substring(t::text, 2, length(t::text) - 2) as line from rest_csv t order by id"
        )
    )
    return "id,label,doc,at,flag\n" + "\n".join(row["line"] for row in rows)


def test_csv_is_postgresql_formatting(people: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    expected = postgres_csv(people)
    lines = expected.splitlines()
    assert lines[1].startswith('1,plain,"{""a"": [1, 2], ""b"": 1}","2024-01-01 ')  # jsonb spacing, "" quotes
    assert lines[2] == '2,"comma, ""quoted""",,,f'  # NULL is nothing, booleans t/f
    assert lines[3].startswith('3,"","""text"""')  # an empty string is quoted
    assert service_client.table("rest_csv").select("*").order("id").csv().execute().data == expected
    result = js.run("return await service.from('rest_csv').select('*').order('id').csv();")
    assert (result["status"], result["data"]) == (200, expected)
    empty = service_client.table("rest_csv").select("*").eq("id", 99).csv().execute()
    assert empty.data == "\n"


def test_embedding_through_a_function_result(people: LocalStack, service_client: Client, js: SupabaseJs) -> None:
    """`/rpc/f?select=*,rel(*)`: a function returning rows of a table embeds through its relationships."""
    select = "title, author:author_id(name)"
    rows = service_client.rpc("rest_posts_titled", {"pattern": "h*"}, get=True).select(select).execute()
    assert rows.data == [{"title": "hello", "author": {"name": "Bob"}}]
    result = js.run(
        "return await service.rpc('rest_posts_titled', { pattern: 'w*' }).select(input.select);", select=select
    )
    assert result["data"] == [{"title": "world", "author": {"name": "Cy"}}]
