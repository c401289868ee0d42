"""Triggers keep chat_sessions.message_count, last_message_at and updated_at true."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.db.actors import create_user


async def _session(db: asyncpg.Connection) -> tuple[str, str]:
    user = await create_user(db, "counter")
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id", user)
    return user, str(session)


async def _counts(db: asyncpg.Connection, session: str) -> asyncpg.Record:
    return await db.fetchrow(
        """select s.message_count, s.last_message_at,
                  (select count(*) from chat_messages m where m.session_id = s.id) as actual,
                  (select max(created_at) from chat_messages m where m.session_id = s.id) as latest
             from chat_sessions s where s.id = $1""",
        session,
    )


async def test_counts_follow_single_and_bulk_inserts_and_deletes(db: asyncpg.Connection) -> None:
    user, session = await _session(db)
    assert (await _counts(db, session))["message_count"] == 0
    await db.execute("insert into chat_messages (session_id, user_id, content) values ($1, $2, 'one')", session, user)
    await db.execute(
        "insert into chat_messages (session_id, user_id, content)"
        " select $1, $2, 'bulk ' || g from generate_series(1, 50) g",
        session,
        user,
    )
    row = await _counts(db, session)
    assert row["message_count"] == row["actual"] == 51
    assert row["last_message_at"] == row["latest"]

    await db.execute("delete from chat_messages where session_id = $1 and content like 'bulk 4%'", session)
    row = await _counts(db, session)
    assert row["message_count"] == row["actual"] == 40
    assert row["last_message_at"] == row["latest"]

    await db.execute("delete from chat_messages where session_id = $1", session)
    row = await _counts(db, session)
    assert row["message_count"] == 0
    assert row["last_message_at"] is None


async def test_deleting_a_question_removes_its_answer_and_counts_both(db: asyncpg.Connection) -> None:
    user, session = await _session(db)
    question = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'q') returning id", session, user
    )
    await db.execute(
        "insert into chat_messages (session_id, user_id, message_type, reply_to, content)"
        " values ($1, $2, 'assistant', $3, 'a')",
        session,
        user,
        question,
    )
    assert (await _counts(db, session))["message_count"] == 2
    await db.execute("delete from chat_messages where id = $1", question)
    row = await _counts(db, session)
    assert row["message_count"] == row["actual"] == 0


async def test_counts_stay_right_under_concurrent_writers(db: asyncpg.Connection, db_dsn: str) -> None:
    user, session = await _session(db)
    pool = await asyncpg.create_pool(db_dsn, min_size=8, max_size=8)
    try:

        async def writer(n: int) -> None:
            for i in range(25):
                await pool.execute(
                    "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)",
                    session,
                    user,
                    f"w{n}-{i}",
                )

        await asyncio.gather(*(writer(n) for n in range(8)))
    finally:
        await pool.close()
    row = await _counts(db, session)
    assert row["message_count"] == row["actual"] == 200


async def test_updated_at_moves_on_update(db: asyncpg.Connection) -> None:
    _, session = await _session(db)
    before = await db.fetchval("select updated_at from chat_sessions where id = $1", session)
    await db.execute("select pg_sleep(0.01)")  # updated_at is now(): needs a later transaction time
    await db.execute("update chat_sessions set title = 'renamed' where id = $1", session)
    after = await db.fetchval("select updated_at from chat_sessions where id = $1", session)
    assert after > before


async def test_assistant_row_must_answer_exactly_one_question(db: asyncpg.Connection) -> None:
    user, session = await _session(db)
    question = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'q') returning id", session, user
    )
    insert_answer = (
        "insert into chat_messages (session_id, user_id, message_type, reply_to) values ($1, $2, 'assistant', $3)"
    )
    await db.execute(insert_answer, session, user, question)
    try:
        await db.execute(insert_answer, session, user, question)
    except asyncpg.UniqueViolationError:
        pass
    else:
        raise AssertionError("a second answer to the same question was accepted")


async def test_sign_up_creates_profile_from_metadata(db: asyncpg.Connection) -> None:
    user = await create_user(db, "张三")
    profile = await db.fetchrow("select username, email, is_active from profiles where id = $1", user)
    assert dict(profile) == {"username": "张三", "email": "张三@example.com", "is_active": True}
    # A taken username (any case) gives way to a generated one: the sign-up must not fail on it
    # (migrations/20261203194500_sign_up_never_fails_on_its_username.sql).
    again = str(uuid.uuid4())
    await db.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
           values ($1, 'authenticated', 'authenticated', 'zhang.san@example.com', '{"username": "张三"}',
                   '{"provider":"email"}', now(), now())""",
        again,
    )
    taken = await db.fetchval("select username from profiles where id = $1", again)
    assert taken == f"zhang.san_{again.replace('-', '')[:8]}"
    assert await db.fetchval("select username_available('张三')") is False
    assert await db.fetchval("select username_available('李四')") is True


async def test_a_username_holds_no_control_or_format_character_and_a_sign_up_with_one_gets_the_generated_name(
    db: asyncpg.Connection,
) -> None:
    """profiles_username_printable (migrations/20261205141000_names_and_prompts_without_control_characters.sql),
    whoever writes the profile: the web app writes it through REST."""
    user = await create_user(db, "plain_name")
    for name in ("ab\ncd", "ab\tcd", "ab\rcd", "ab\u200bcd", "ab\u202ecd", "ab\u00adcd", "ab\x85cd", "ab\U000e0041cd"):
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute("update profiles set username = $2 where id = $1", user, name)
    await db.execute("update profiles set username = 'still_plain' where id = $1", user)
    signed_up = await create_user(db, "new\u200duser")
    generated = await db.fetchval("select username from profiles where id = $1", signed_up)
    assert generated == f"newuser_{signed_up.replace('-', '')[:8]}"  # the e-mail's part, without the joiner


async def test_an_avatar_is_a_web_address_and_a_sign_up_with_another_leaves_it_out(db: asyncpg.Connection) -> None:
    """profiles_avatar_url_web (migrations/20261205142000_avatars_are_web_addresses.sql), as REST writes it."""
    user = await create_user(db, "avatar_owner")
    for bad in ("javascript:alert(1)", "not a url", "https://", "http://a b/c", "data:image/png;base64,AAAA"):
        with pytest.raises(asyncpg.CheckViolationError, match="profiles_avatar_url_web"):
            await db.execute("update profiles set avatar_url = $2 where id = $1", user, bad)
    good = "https://example.com/storage/v1/object/public/avatars/u/a.png"
    await db.execute("update profiles set avatar_url = $2 where id = $1", user, good)
    signed_up = str(uuid.uuid4())
    await db.execute(
        """insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
           values ($1, 'authenticated', 'authenticated', 'js@example.com', $2::jsonb, '{"provider":"email"}',
                   now(), now())""",
        signed_up,
        '{"username": "js_avatar", "avatar_url": "javascript:alert(1)"}',
    )
    row = await db.fetchrow("select username, avatar_url from profiles where id = $1", signed_up)
    assert dict(row) == {"username": "js_avatar", "avatar_url": None}


async def test_last_login_follows_auth_sign_in(db: asyncpg.Connection) -> None:
    user = await create_user(db, "loginuser")
    await db.execute("update auth.users set last_sign_in_at = now() where id = $1", user)
    synced = await db.fetchval(
        "select p.last_login_at = u.last_sign_in_at from profiles p join auth.users u using (id) where p.id = $1", user
    )
    assert synced is True
