"""A role's lifecycle as the database keeps it, whoever writes (REST from the web app, the API,
/v1): a question or a chat names only a role that can answer it (an active one the asker may
use), and a role's questions follow it when its slug is renamed."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from tests.db.actors import Actor, create_user
from tests.db.refusals import refusal
from tests.db.test_quotas import send_as


@pytest.fixture
async def alice(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, "alice")
    session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user))
    return user, session


async def _own_role(db: asyncpg.Connection, user: str, slug: str, *, active: bool = True) -> str:
    return str(
        await db.fetchval(
            "insert into ai_roles (slug, name, system_prompt, is_active, created_by)"
            " values ($1, 'Pirate', 'Talk like a pirate.', $2, $3) returning id",
            slug,
            active,
            user,
        )
    )


async def _bind_as(db: asyncpg.Connection, user: str, session: str | None, role: str) -> None:
    """Bind a chat to a role as the user does over REST: a new chat (session None) or an update."""
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
        await db.execute("set local role authenticated")
        if session is None:
            await db.execute("insert into chat_sessions (user_id, role_id) values ($1, $2)", user, role)
        else:
            await db.execute("update chat_sessions set role_id = $1 where id = $2", role, session)


async def test_a_question_naming_a_role_that_cannot_answer_is_refused(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """The worker answers only with an active role the asker may use, else as the assistant: a
    question naming another is refused (404 RoleNotFound) rather than answered by another persona,
    and nothing is stored or charged."""
    user, session = alice
    bob = await create_user(db, "bob")
    await _own_role(db, user, "sleeper", active=False)
    await _own_role(db, bob, "bobs-own")
    await db.execute("update ai_roles set is_active = false where slug = 'casual_chat'")
    for slug in ("sleeper", "casual_chat", "bobs-own", "no-such-role"):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await send_as(db, user, session, role_id=slug)
        status, code, details = refusal(refused.value)
        assert (status, code, details["role_id"]) == (404, "RoleNotFound", slug)
    assert await db.fetchval("select count(*) from chat_messages") == 0
    assert await db.fetchval("select count(*) from usage_ledger") == 0
    await db.execute("update ai_roles set is_active = true where slug = 'sleeper'")
    await send_as(db, user, session, role_id="sleeper")  # switched on again, it answers
    await send_as(db, user, session, role_id="assistant")
    await send_as(db, user, session)  # naming no role is the session's or the assistant's
    assert await db.fetchval("select count(*) from chat_messages where message_type = 'user'") == 3


async def test_a_chat_is_not_bound_to_a_role_that_is_switched_off(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, session = alice
    sleeper = await _own_role(db, user, "sleeper", active=False)
    for target in (None, session):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await _bind_as(db, user, target, sleeper)
        assert refusal(refused.value)[:2] == (404, "RoleNotFound")
    assert await db.fetchval("select count(*) from chat_sessions where role_id is not null") == 0
    awake = await _own_role(db, user, "awake")
    await _bind_as(db, user, session, awake)
    # A chat bound before its role was switched off keeps it (its other changes still go through).
    await db.execute("update ai_roles set is_active = false where id = $1", awake)
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
        await db.execute("set local role authenticated")
        await db.execute("update chat_sessions set title = 'kept' where id = $1", session)
    assert await db.fetchval("select title from chat_sessions where id = $1", session) == "kept"


async def test_questions_follow_their_role_when_its_slug_is_renamed(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """chat_messages.role_id keeps a role's slug (the API's role_id): a rename carries the role's
    questions and answers along, so they still name it (history's role_name, the worker's prompt
    for a regeneration); another user's messages naming the same slug of their own role stay."""
    user, session = alice
    bob = await create_user(db, "bob")
    bob_session = str(await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", bob))
    role = await _own_role(db, user, "pirate")
    await _own_role(db, bob, "pirate")
    mine = await send_as(db, user, session, role_id="pirate")
    await db.execute(
        "insert into chat_messages (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no)"
        " values ($1, $2, 'assistant', 'Arr', 'pirate', 'completed', $3, 1)",
        session,
        user,
        mine,
    )
    bobs = await send_as(db, bob, bob_session, role_id="pirate")
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
        await db.execute("set local role authenticated")
        await db.execute("update ai_roles set slug = 'corsair' where id = $1", role)
    assert await db.fetchval("select array_agg(distinct role_id) from chat_messages where user_id = $1", user) == [
        "corsair"
    ]
    assert await db.fetchval("select role_id from chat_messages where id = $1", bobs) == "pirate"
    # A built-in role renamed (by an admin) takes every user's questions with it.
    asked = [
        await send_as(db, user, session, role_id="assistant"),
        await send_as(db, bob, bob_session, role_id="assistant"),
    ]
    await db.execute("update ai_roles set slug = 'helper' where slug = 'assistant' and created_by is null")
    assert (
        await db.fetchval("select array_agg(role_id) from chat_messages where id = any($1::uuid[])", asked)
        == ["helper"] * 2
    )


async def _write_role_as(db: asyncpg.Connection, user: str, sql: str, *args: object) -> asyncpg.Record:
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
        await db.execute("set local role authenticated")
        row: asyncpg.Record = await db.fetchrow(sql, *args)
        return row


INSERT = (
    "insert into ai_roles (slug, name, description, system_prompt, created_by) values ($1, $2, $3, $4, auth.uid())"
    " returning name, description, system_prompt"
)


async def test_a_roles_texts_are_measured_and_stored_trimmed(db: asyncpg.Connection, alice: tuple[str, str]) -> None:
    """A name, a description and a system prompt are kept without the blanks around them, and their
    limits (100, 2000, 8000 characters) count what is kept: a name of 100 characters typed after a
    space fits, as it does at the API and in the web app's form."""
    user, _ = alice
    stored = await _write_role_as(
        db, user, INSERT, "roomy", " " + "n" * 100, "\u3000" + "d" * 2000 + " ", "\n" + "p" * 8000 + "\n\n"
    )
    assert tuple(stored) == ("n" * 100, "d" * 2000, "p" * 8000)
    blank = await _write_role_as(db, user, INSERT, "blank", "\tPirate ", "  \n ", " Arr ")
    assert tuple(blank) == ("Pirate", None, "Arr")
    renamed = await _write_role_as(
        db,
        user,
        "update ai_roles set name = $1, description = $2 where slug = 'blank' returning name, description",
        "  Corsair\u00a0",
        " Sails ",
    )
    assert tuple(renamed) == ("Corsair", "Sails")
    for name, description, prompt in (
        ("n" * 101, None, "p"),
        ("\u3000 ", None, "p"),
        ("ok", "d" * 2001, "p"),
        ("ok", None, " p" * 4001),
        ("ok", None, "\n \u3000"),
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await _write_role_as(db, user, INSERT, "refused", name, description, prompt)


async def test_a_roles_translations_are_measured_and_stored_trimmed(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    user, _ = alice
    texts = {"en": {"name": " " + "e" * 100, "description": "x" * 2000 + "\n"}, "zh": {"name": "\u3000海盗 "}}
    stored = await _write_role_as(
        db,
        user,
        "insert into ai_roles (slug, name, system_prompt, translations, created_by)"
        " values ('worldly', 'Worldly', 'p', $1::jsonb, auth.uid()) returning translations",
        json.dumps(texts),
    )
    assert json.loads(stored["translations"]) == {
        "en": {"name": "e" * 100, "description": "x" * 2000},
        "zh": {"name": "海盗"},
    }
    for refused in ({"en": {"name": " " + "e" * 101}}, {"en": {"name": "\u3000"}}, {"en": {"name": 7}}):
        with pytest.raises(asyncpg.CheckViolationError):
            await _write_role_as(
                db,
                user,
                "update ai_roles set translations = $1::jsonb where slug = 'worldly' returning translations",
                json.dumps(refused),
            )


async def _call_as(db: asyncpg.Connection, user: str, sql: str, *args: object) -> object:
    async with db.transaction():
        await db.execute("select set_config('request.jwt.claims', $1, true)", Actor("u", "authenticated", user).claims)
        await db.execute("set local role authenticated")
        return await db.fetchval(sql, *args)


async def test_a_chat_of_a_switched_off_or_deleted_role_is_branched_but_not_answered_again(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """Continuing a chat in a new one copies its history (chat_branch), whatever became of its
    persona; asking its question a new answer (regenerate) would have the assistant answer for a
    switched-off persona, so it is refused RoleNotFound as the question would be."""
    user, session = alice
    sleeper = await _own_role(db, user, "sleeper")
    await _own_role(db, user, "goner")
    await _bind_as(db, user, session, sleeper)
    asked = {}
    for slug in ("sleeper", "goner"):
        asked[slug] = await send_as(db, user, session, content=f"to {slug}", role_id=slug)
        await db.execute(
            "insert into chat_messages (session_id, user_id, message_type, content, role_id, status, reply_to,"
            " answer_no) values ($1, $2, 'assistant', 'zzz', $3, 'completed', $4, 1)",
            session,
            user,
            slug,
            asked[slug],
        )
    await db.execute("update ai_roles set is_active = false where slug = 'sleeper'")
    await db.execute("delete from ai_roles where slug = 'goner'")
    last = await db.fetchval("select id from chat_messages where reply_to = $1", asked["goner"])
    branch = await _call_as(db, user, "select chat_branch($1)", last)
    copied = await db.fetch(
        "select role_id from chat_messages where session_id = $1 order by created_at, message_type desc", branch
    )
    assert [r["role_id"] for r in copied] == ["sleeper", "sleeper", "goner", "goner"]
    assert await db.fetchval("select role_id from chat_sessions where id = $1", branch) == uuid.UUID(sleeper)
    for slug in ("sleeper", "goner"):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await _call_as(db, user, "select (request_answer($1, 2)).id", asked[slug])
        assert refusal(refused.value)[:2] == (404, "RoleNotFound")
    assert await db.fetchval("select count(*) from chat_messages where answer_no = 2") == 0
    await db.execute("update ai_roles set is_active = true where slug = 'sleeper'")
    assert await _call_as(db, user, "select (request_answer($1, 2)).id", asked["sleeper"]) is not None


async def test_a_question_naming_no_role_in_a_chat_whose_persona_is_switched_off_is_refused(
    db: asyncpg.Connection, alice: tuple[str, str]
) -> None:
    """A question naming no role is answered by its chat's persona (worker_claim_context), or by the
    assistant when that persona is switched off: sent over REST (or the API) into a chat bound to a
    persona switched off since, it was answered as the assistant while the web app said the chat's
    persona is switched off and sent nothing. It is refused RoleNotFound as naming the persona would
    be, and so is a new answer to it; a /v1 question carrying its own messages (no persona: it is
    answered from them) is not."""
    user, session = alice
    sleeper = await _own_role(db, user, "sleeper")
    await _bind_as(db, user, session, sleeper)
    asked = await send_as(db, user, session, content="before")
    await db.execute("update ai_roles set is_active = false where slug = 'sleeper'")
    with pytest.raises(asyncpg.PostgresError) as refused:
        await send_as(db, user, session, content="after")
    assert refusal(refused.value)[:2] == (404, "RoleNotFound")
    assert refusal(refused.value)[2]["role_id"] == "sleeper"
    with pytest.raises(asyncpg.PostgresError) as again:
        await _call_as(db, user, "select (request_answer($1, 1)).id", asked)
    assert refusal(again.value)[:2] == (404, "RoleNotFound")
    assert await db.fetchval("select count(*) from chat_messages") == 1
    own = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    stored = await _call_as(
        db,
        user,
        "select public.api_open_turn(gen_random_uuid(), 'with its own messages', 'qwen-plus', null, false, $1,"
        " null, null, current_date, $2::jsonb)",
        uuid.UUID(session),
        json.dumps(own),
    )
    assert str(stored) == session
    await db.execute("update ai_roles set is_active = true where slug = 'sleeper'")
    await send_as(db, user, session, content="after")
    assert await db.fetchval("select count(*) from chat_messages where message_type = 'user'") == 3
