"""Share links in the database: a frozen copy of the path, a token kept only as a hash, read by
anyone with the token through read_share() alone, revoked by deleting the row; made under the
caller's id when it names one, and a taken id refused as ShareIdTaken with nothing stored. Shared
attachments say what each file is, never where it is stored (its path names the owner)."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from localbase.migrate import MIGRATIONS_DIR
from tests.db.actors import Actor, acting_as, create_user
from tests.db.refusals import refusal
from tests.db.test_trees import Tree, acting


@pytest.fixture
async def tree(db: asyncpg.Connection) -> Tree:
    user = await create_user(db, "sharer")
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 'Trip') returning id", user)
    return Tree(db, user, str(session))


async def share(
    db: asyncpg.Connection, actor: Actor, session: str, share_id: str | None = None, **flags: bool
) -> dict[str, str]:
    async with acting(db, actor):
        made = await db.fetchval(
            "select share_session($1, $2, $3, $4::uuid)",
            session,
            flags.get("reasoning", False),
            flags.get("attachments", False),
            share_id,
        )
    return dict(json.loads(made))


async def read(db: asyncpg.Connection, token: str, actor: Actor | None = None) -> dict[str, object] | None:
    async with acting_as(db, actor or Actor("anon", "anon")):
        found = await db.fetchval("select read_share($1)", token)
    return json.loads(found) if found else None


async def test_a_share_is_the_path_at_share_time_and_stays_so(tree: Tree, db: asyncpg.Connection) -> None:
    q1 = await tree.ask("Where should I go?")
    a1 = await tree.answer(q1, "Try Hangzhou.")
    q2 = await tree.ask("In spring?")
    await tree.answer(q2, "Yes, the tea harvest.")
    await tree.ask("In winter?", parent_id=a1)  # the current branch is now the edit
    await tree.answer(await tree.ask("Why?"), "Snow on West Lake.")
    made = await share(db, tree.actor, tree.session)

    shared = await read(db, made["token"])
    assert shared is not None
    assert shared["title"] == "Trip"
    expected = ["Where should I go?", "Try Hangzhou.", "In winter?", "", "Why?", "Snow on West Lake."]
    assert [m["content"] for m in shared["messages"]] == [c for c in expected if c]  # type: ignore[attr-defined]

    # Later edits, answers and renames never reach the snapshot.
    await tree.ask("Another question")
    await db.execute("update chat_messages set content = 'changed' where id = $1", a1)
    assert await read(db, made["token"]) == shared


async def test_the_token_is_stored_only_as_its_hash(tree: Tree, db: asyncpg.Connection) -> None:
    await tree.answer(await tree.ask("hello"), "hi")
    made = await share(db, tree.actor, tree.session)
    assert len(made["token"]) >= 32  # 192 bits in base64url
    dump = await db.fetchval("select string_agg(t::text, ' ') from chat_shares t")
    assert made["token"] not in dump
    assert (
        await db.fetchval(
            "select count(*) from chat_shares where token_hash = sha256($1::bytea)", made["token"].encode()
        )
        == 1
    )


async def test_revoked_or_unknown_tokens_read_nothing(tree: Tree, db: asyncpg.Connection) -> None:
    await tree.answer(await tree.ask("hello"), "hi")
    made = await share(db, tree.actor, tree.session)
    assert await read(db, made["token"][:-1] + ("A" if made["token"][-1] != "A" else "B")) is None
    assert await read(db, "' or true --") is None
    intruder = Actor("intruder", "authenticated", await create_user(db, "intruder"))
    async with acting(db, intruder):
        assert await db.fetchval("delete from chat_shares where id = $1 returning id", made["id"]) is None
    assert await read(db, made["token"], intruder) is not None  # the link itself is the permission
    async with acting(db, tree.actor):
        assert str(await db.fetchval("delete from chat_shares where id = $1 returning id", made["id"])) == made["id"]
    assert await read(db, made["token"]) is None


async def test_only_the_owner_shares_and_lists(tree: Tree, db: asyncpg.Connection) -> None:
    await tree.answer(await tree.ask("hello"), "hi")
    intruder = Actor("intruder", "authenticated", await create_user(db, "intruder2"))
    with pytest.raises(asyncpg.PostgresError, match="SessionNotFound"):
        await share(db, intruder, tree.session)
    await share(db, tree.actor, tree.session)
    async with acting_as(db, intruder):
        assert await db.fetch("select id from chat_shares") == []
    async with acting_as(db, tree.actor):
        assert len(await db.fetch("select id, title, messages from chat_shares")) == 1
    for actor in (tree.actor, Actor("anon", "anon")):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with acting_as(db, actor):
                await db.fetch("select token_hash from chat_shares")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with acting_as(db, tree.actor):
            await db.execute(
                "insert into chat_shares (session_id, token_hash, messages) values ($1, sha256('x'), '[]')",
                tree.session,
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with acting_as(db, tree.actor):
            await db.execute("update chat_shares set messages = '[]'")


async def test_reasoning_only_when_asked(tree: Tree, db: asyncpg.Connection) -> None:
    answer = await tree.answer(await tree.ask("think"), "done")
    await db.execute("update chat_messages set reasoning = 'step by step' where id = $1", answer)
    plain = await read(db, (await share(db, tree.actor, tree.session))["token"])
    full = await read(db, (await share(db, tree.actor, tree.session, reasoning=True))["token"])
    assert plain is not None
    assert full is not None
    assert "reasoning" not in plain["messages"][1]  # type: ignore[index]
    assert full["messages"][1]["reasoning"] == "step by step"  # type: ignore[index]


async def test_a_searched_answer_is_shared_with_its_sources(tree: Tree, db: asyncpg.Connection) -> None:
    """Its text cites [1]: the source goes with it (public references, like the model's name)."""
    searched = await tree.answer(await tree.ask("news?", web_search=True), "This happened [1].")
    sources = [{"index": 1, "title": "News", "url": "https://example.com/n", "site_name": "Example"}]
    await db.execute("update chat_messages set sources = $2::jsonb where id = $1", searched, json.dumps(sources))
    await tree.answer(await tree.ask("and?"), "Nothing more.")
    shared = await read(db, (await share(db, tree.actor, tree.session))["token"])
    assert shared is not None
    messages: list[dict[str, object]] = shared["messages"]  # type: ignore[assignment]
    assert [m.get("sources") for m in messages] == [None, sources, None, None]


async def test_shared_attachments_say_what_each_file_is_not_whose_it_is(tree: Tree, db: asyncpg.Connection) -> None:
    stored = [
        {"path": f"{tree.user}/{uuid.uuid4()}/pic.png", "name": "pic.png", "mime_type": "image/png", "size": 3},
        {"path": f"{tree.user}/{uuid.uuid4()}/notes.txt", "name": "notes.txt", "mime_type": "text/plain", "size": 5},
    ]
    for file in stored:
        await db.execute(
            "insert into storage.objects (bucket_id, name, owner_id, version, metadata)"
            " values ('attachments', $1, $2, 'v1', $3::jsonb)",
            file["path"],
            tree.user,
            json.dumps({"size": file["size"], "mimetype": file["mime_type"]}),
        )
    attached = [{"bucket": "attachments", **stored[0], "width": 1, "height": 2}, {"bucket": "attachments", **stored[1]}]
    await tree.answer(await tree.ask("what is this?", attachments=json.dumps(attached)), "a picture and notes")
    shown = [
        {"name": "pic.png", "mime_type": "image/png", "size": 3, "width": 1, "height": 2},
        {"name": "notes.txt", "mime_type": "text/plain", "size": 5},
    ]
    shared = await read(db, (await share(db, tree.actor, tree.session, attachments=True))["token"])
    assert shared is not None
    assert shared["messages"][0]["attachments"] == shown  # type: ignore[index]
    assert tree.user not in json.dumps(shared)

    # A share made before 12-05 kept them whole: the migration scrubs it.
    old = await share(db, tree.actor, tree.session, attachments=True)
    await db.execute(
        "update chat_shares set messages = jsonb_set(messages, '{0,attachments}', $2::jsonb) where id = $1",
        old["id"],
        json.dumps(attached),
    )
    migration = (MIGRATIONS_DIR / "20261205114500_shared_attachments_name_no_owner.sql").read_text()
    await db.execute(migration[migration.rindex("update public.chat_shares") :])  # its last statement
    scrubbed = await read(db, old["token"])
    assert scrubbed is not None
    assert scrubbed["messages"] == shared["messages"]


async def test_a_share_under_the_callers_id_once(tree: Tree, db: asyncpg.Connection) -> None:
    await tree.answer(await tree.ask("hello"), "hi")
    share_id = str(uuid.uuid4())
    made = await share(db, tree.actor, tree.session, share_id)
    assert made["id"] == share_id
    before = await db.fetch("select id, token_hash, messages from chat_shares order by created_at")
    with pytest.raises(asyncpg.PostgresError) as exc:
        await share(db, tree.actor, tree.session, share_id)  # a repeat after its answer was lost
    assert refusal(exc.value)[:2] == (409, "ShareIdTaken")
    assert await db.fetch("select id, token_hash, messages from chat_shares order by created_at") == before
    assert await read(db, made["token"]) is not None  # the first share's token still opens it


async def test_another_users_share_id_is_refused_and_their_share_untouched(tree: Tree, db: asyncpg.Connection) -> None:
    await tree.answer(await tree.ask("hello"), "hi")
    theirs = await share(db, tree.actor, tree.session, str(uuid.uuid4()))
    other = await create_user(db, "other")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", other))
    before = await db.fetch("select id, token_hash, session_id from chat_shares")
    with pytest.raises(asyncpg.PostgresError) as exc:
        await share(db, Actor("other", "authenticated", other), session, theirs["id"])
    assert refusal(exc.value)[:2] == (409, "ShareIdTaken")
    assert await db.fetch("select id, token_hash, session_id from chat_shares") == before


async def test_a_disabled_accounts_links_read_as_revoked_until_it_is_enabled(
    tree: Tree, db: asyncpg.Connection
) -> None:
    """An account an admin disabled (abuse, fraud) publishes nothing: its links answer as a revoked
    one does (nothing tells the reader why), and open again once it is enabled; others' are untouched."""
    await tree.answer(await tree.ask("hello"), "hi")
    made = await share(db, tree.actor, tree.session)
    other = await create_user(db, "bystander")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", other))
    theirs = await share(db, Actor("bystander", "authenticated", other), session)
    shared = await read(db, made["token"])
    assert shared is not None

    await db.execute("update user_plans set disabled = true where user_id = $1", tree.user)
    signed_in = Actor("reader", "authenticated", await create_user(db, "reader"))
    for actor in (None, signed_in, tree.actor):
        assert await read(db, made["token"], actor) is None
    assert await read(db, theirs["token"]) is not None

    await db.execute("update user_plans set disabled = false where user_id = $1", tree.user)
    assert await read(db, made["token"]) == shared


async def test_an_answer_that_continued_a_requests_words_is_shared_with_them(
    tree: Tree, db: asyncpg.Connection
) -> None:
    """A /v1 answer in Qwen's partial mode is stored as the continuation; the words are its
    question's `prefix`. The share froze the continuation alone, an answer cut of its start; and
    it now says the answer continued given words (`continued`, as the owner's page notes it),
    which it said of none: the reader could not tell the start was the request's, not the model's."""
    question = await tree.ask("Name a scientist as JSON")
    await db.execute(
        "insert into question_contexts (message_id, user_id, messages, parameters)"
        ' values ($1, $2, \'[]\', \'{"prefix": "{\\"name\\": \\""}\')',
        uuid.UUID(question),
        uuid.UUID(tree.user),
    )
    await tree.answer(question, 'Ada"}')
    await tree.answer(await tree.ask("Another?"), "Grace.")
    shared = await read(db, (await share(db, tree.actor, tree.session))["token"])
    assert shared is not None
    messages: list[dict[str, object]] = shared["messages"]  # type: ignore[assignment]
    assert [m["content"] for m in messages] == ["Name a scientist as JSON", '{"name": "Ada"}', "Another?", "Grace."]
    assert [m.get("continued") for m in messages] == [None, True, None, None]
