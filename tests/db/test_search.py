"""Search across Chinese and English through the GIN index, under RLS, at 200,000 messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg
import pytest

from tests.db.actors import Actor, acting_as, create_user
from tests.db.refusals import refusal

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_BEFORE_FOLD = (MIGRATIONS / "20261205170070_full_width_letters_and_digits_are_searched_as_ascii.sql").read_text()
_FOLD = (MIGRATIONS / "20261206100090_accents_are_folded_in_search.sql").read_text()

FILLER_ZH = ["今天天气很好", "我们去公园散步", "请帮我写一首诗", "这个问题很有意思", "晚饭吃什么", "学习编程需要耐心"]
FILLER_EN = ["hello there", "please explain closures", "what is the weather", "write a short poem", "thanks a lot"]


async def _populate(db: asyncpg.Connection, total: int) -> dict[str, str]:
    """`total` messages over two users; a few planted needles whose rows we know."""
    a = await create_user(db, "searcher")
    b = await create_user(db, "otheruser")
    sessions = {}
    for owner, name in ((a, "a"), (b, "b")):
        sessions[name] = str(
            await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 's') returning id", owner)
        )
    # The filler is loaded as bench/ loads its rows: one statement with the table's triggers off
    # (`session_replication_role = replica`), each row written as the triggers would write it: its
    # owner, the message before it in its session as its parent (a chain, as questions sent one after
    # another make), its search vector by the function the vector's trigger calls, and its session's
    # count and newest message. Through the triggers the load took ~25 s of this test's ~27 (lookups
    # and plpgsql for each row); the vectors and every index are still built. The needles below go
    # through every trigger.
    async with db.transaction():
        await db.execute("set local session_replication_role = replica")
        await db.execute(
            """with filler as materialized (
                 select f.*, lag(f.id) over (partition by f.session_id order by f.g) as parent_id
                   from (select g, gen_random_uuid() as id,
                                case when g % 10 = 0 then $2::uuid else $1::uuid end as session_id,
                                case when g % 10 = 0 then $4::uuid else $3::uuid end as user_id,
                                ($5::text[])[1 + g % 6] || ' ' || ($6::text[])[1 + (g / 7) % 5] || ' #' || g
                                  as content
                           from generate_series(1, $7) g) f),
               loaded as (
                 insert into chat_messages (id, session_id, user_id, content, parent_id, search_vector)
                 select id, session_id, user_id, content, parent_id, public.search_document(content) from filler)
               update chat_sessions s
                  set message_count = n.count, last_message_at = now(), current_leaf_id = n.newest
                 from (select session_id, count(*)::int as count, (array_agg(id order by g desc))[1] as newest
                         from filler group by session_id) n
                where s.id = n.session_id""",
            sessions["a"],
            sessions["b"],
            a,
            b,
            FILLER_ZH,
            FILLER_EN,
            total,
        )
    needles = [
        (sessions["a"], a, "量子计算的基本原理是什么"),
        (sessions["a"], a, "我想了解量子力学"),
        (sessions["a"], a, "How do I deploy to Kubernetes quickly?"),
        (sessions["a"], a, "kubernetes operators explained 量子"),
        (sessions["b"], b, "B's secret: 量子 and kubernetes"),  # must never show up for A
        (sessions["a"], a, "子量 reversed order is not a match"),
    ]
    for session, owner, text in needles:
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)", session, owner, text
        )
    await db.execute("analyze chat_messages")
    return {"a": a, "b": b}


async def _search(db: asyncpg.Connection, user: str, query: str) -> list[str]:
    async with acting_as(db, Actor("user", "authenticated", user)):
        rows = await db.fetch("select content from search_messages($1, null, 100)", query)
    return sorted(r["content"] for r in rows)


@pytest.mark.slow
@pytest.mark.timeout(300)  # 200k search vectors and index entries: ~10 s alone, a minute on a loaded machine
async def test_chinese_and_english_search_at_200k_messages(db: asyncpg.Connection) -> None:
    users = await _populate(db, 200_000)
    assert await db.fetchval("select count(*) from chat_messages") == 200_006

    assert await _search(db, users["a"], "量子") == sorted(
        ["量子计算的基本原理是什么", "我想了解量子力学", "kubernetes operators explained 量子"]
    )
    assert await _search(db, users["a"], "kubernetes") == sorted(
        ["How do I deploy to Kubernetes quickly?", "kubernetes operators explained 量子"]
    )
    assert await _search(db, users["a"], "量子 kubernetes") == ["kubernetes operators explained 量子"]
    assert await _search(db, users["a"], "量子计算") == ["量子计算的基本原理是什么"]
    assert await _search(db, users["b"], "量子") == ["B's secret: 量子 and kubernetes"]

    # The predicate search_message_hits() runs (as its owner, with the ownership rule explicit).
    for query in ("量子", "kubernetes"):
        plan = await db.fetchval(
            """explain (format json)
               select id from chat_messages where user_id = $2 and search_vector @@ search_query($1)""",
            query,
            users["a"],
        )
        text = json.dumps(plan)
        assert "chat_messages_owner_search_idx" in text, f"{query!r} did not use the search index: {text}"


async def test_search_terms_split_cjk_into_bigrams_and_english_into_stems(db: asyncpg.Connection) -> None:
    document = await db.fetchval("select search_document('学习编程 Running servers')::text")
    for lexeme in ("'学习'", "'习编'", "'编程'", "'学'", "'run'", "'server'"):
        assert lexeme in document
    assert await db.fetchval("select search_document('学习编程') @@ search_query('编程')") is True
    assert await db.fetchval("select search_document('学习编程') @@ search_query('程编')") is False
    assert await db.fetchval("select search_document('servers') @@ search_query('server')") is True


async def test_empty_or_stopword_query_finds_nothing(db: asyncpg.Connection) -> None:
    user = await create_user(db, "quiet")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    await db.execute("insert into chat_messages (session_id, user_id, content) values ($1, $2, 'the a')", session, user)
    assert await _search(db, user, "the") == []
    assert await _search(db, user, "   ") == []


async def test_common_terms_rank_the_newest_500_matches_then_reach_every_older_one(db: asyncpg.Connection) -> None:
    """The newest 500 matches come first, ranked (an old match never outranks them), then every
    older match, newest first: paging reaches all 600, each once."""
    user = await create_user(db, "chatty")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    await db.execute(
        """insert into chat_messages (session_id, user_id, content, created_at)
           select $1, $2, 'needle number ' || g || case when g % 7 = 0 then ' needle needle' else '' end,
                  now() - (600 - g) * interval '1 second'
             from generate_series(1, 600) g""",
        session,
        user,
    )
    async with acting_as(db, Actor("user", "authenticated", user)):
        pages = [
            await db.fetch("select content, rank from search_messages('needle', null, 70, $1)", skip)
            for skip in range(0, 700, 70)
        ]
        straddling = await db.fetch("select content from search_messages('needle', null, 20, 490)")
    hits = [r for page in pages for r in page]
    numbers = [int(r["content"].split(" ")[2]) for r in hits]
    assert sorted(numbers) == list(range(1, 601))  # every match, each once
    newest = range(600, 100, -1)
    # the ranked 500: the thrice-needled first, then the rest, newest first within equal rank
    assert numbers[:500] == [n for n in newest if n % 7 == 0] + [n for n in newest if n % 7]
    assert all(r["rank"] is not None for r in hits[:500])
    assert numbers[500:] == list(range(100, 0, -1))  # then every older match, newest first
    assert all(r["rank"] is None for r in hits[500:])
    assert [r["content"] for r in straddling] == [r["content"] for r in hits[490:510]]


async def test_an_answer_is_searchable_once_final_not_while_it_streams(db: asyncpg.Connection) -> None:
    user = await create_user(db, "streamer")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    question = await db.fetchval(
        "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'tell me about zebras') returning id",
        session,
        user,
    )
    answer = await db.fetchval(
        "insert into chat_messages (session_id, user_id, message_type, reply_to, status, content)"
        " values ($1, $2, 'assistant', $3, 'streaming', 'Zebras have stripes') returning id",
        session,
        user,
        question,
    )
    assert await _search(db, user, "stripes") == []  # still being written: not indexed yet
    assert await db.fetchval("select search_vector is null from chat_messages where id = $1", answer)
    assert await _search(db, user, "zebras") == ["tell me about zebras"]  # questions are final at once

    await db.execute(
        "update chat_messages set status = 'completed', content = content || ' and hooves' where id = $1", answer
    )

    assert await _search(db, user, "stripes") == ["Zebras have stripes and hooves"]
    assert await _search(db, user, "zebras") == ["Zebras have stripes and hooves", "tell me about zebras"]


async def test_a_pasted_paragraph_is_found_and_a_search_past_1000_characters_is_refused(db: asyncpg.Connection) -> None:
    """A 1,000-character Chinese paste is found (its 999 bigrams, built in linear time); one more
    character is refused 400 SearchTooLong before any work, not searched for seconds (the bigrams
    were joined one by one, quadratic: 20,000 characters ran past the 8 s statement timeout)."""
    user = await create_user(db, "paster")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    paragraph = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1000))
    content = f"开头 {paragraph} the end"
    for text in (content, paragraph[:-1]):
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)", session, user, text
        )
    assert await _search(db, user, paragraph) == [content]
    assert await _search(db, user, f"{paragraph[:998]}x") == []  # the English word must be there too
    async with acting_as(db, Actor("user", "authenticated", user)):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await db.fetch("select id from search_messages($1)", paragraph + "字")
    status, code, details = refusal(refused.value)
    assert (status, code, details) == (400, "SearchTooLong", {"limit": 1000, "length": 1001})
    # The query: the English terms, then each CJK run's bigrams (a lone character itself), in order.
    assert await db.fetchval("select search_query('量子 Kubernetes 计算机, 子')::text") == (
        "'kubernet' & '量子' & '计算' & '算机' & '子'"
    )


async def test_full_width_letters_and_digits_are_found_as_ascii_and_the_other_way_round(db: asyncpg.Connection) -> None:
    """A Chinese input method's full-width mode types ＰＹＴＨＯＮ and ２０２４: the same words."""
    user = await create_user(db, "fullwidth")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    for text in ("学习Ｐｙｔｈｏｎ的２０２４年计划", "python in 2024", "ｶﾀｶﾅ 半角"):
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)", session, user, text
        )
    both = ["python in 2024", "学习Ｐｙｔｈｏｎ的２０２４年计划"]
    assert await _search(db, user, "python") == both
    assert await _search(db, user, "ｐｙｔｈｏｎ") == both
    assert await _search(db, user, "２０２４") == both
    assert await _search(db, user, "2024年计划") == ["学习Ｐｙｔｈｏｎ的２０２４年计划"]
    assert await _search(db, user, "カタカナ") == ["ｶﾀｶﾅ 半角"]


async def test_accents_are_folded_in_the_messages_and_the_search_alike(db: asyncpg.Connection) -> None:
    """`cafe` finds `café` and `résumé` finds `resume`: a word typed without its accents (or with them,
    or with a combining accent after the letter) is the same word."""
    user = await create_user(db, "accents")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    for text in ("Un café à Paris", "my resume draft", "Straße und Ærø", "naïve 天气 e\u0301clair"):
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)", session, user, text
        )
    assert await _search(db, user, "cafe") == ["Un café à Paris"]
    assert await _search(db, user, "CAFÉ") == ["Un café à Paris"]
    assert await _search(db, user, "résumé") == ["my resume draft"]
    assert await _search(db, user, "strasse aero") == ["Straße und Ærø"]
    assert await _search(db, user, "naive 天气") == ["naïve 天气 e\u0301clair"]
    assert await _search(db, user, "éclair") == ["naïve 天气 e\u0301clair"]
    assert await _search(db, user, "e\u0301clair") == ["naïve 天气 e\u0301clair"]


async def test_the_fold_reaches_messages_stored_before_it_and_moves_no_updated_at(db: asyncpg.Connection) -> None:
    """20261206100090 computes again the stored vectors its fold changes, and those only."""
    old_document = re.search(r"create or replace function public\.search_document.*?\$\$;", _BEFORE_FOLD, re.S)
    assert old_document is not None
    await db.execute(old_document.group(0))  # the vectors as they were stored before the fold
    user = await create_user(db, "storedearlier")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    for text in ("Un café à Paris", "plain ascii text", "天气很好"):
        await db.execute(
            "insert into chat_messages (session_id, user_id, content, updated_at) values ($1, $2, $3, '2026-01-01')",
            session,
            user,
            text,
        )
    stale = await db.fetch(
        'select search_vector, xmin::text as x from chat_messages where user_id = $1 order by content collate "C"',
        user,
    )
    await db.execute(_FOLD)
    assert await _search(db, user, "cafe") == ["Un café à Paris"]
    after = await db.fetch(
        "select content, search_vector, xmin::text as x, updated_at from chat_messages where user_id = $1"
        ' order by content collate "C"',
        user,
    )
    rewritten = [a["content"] for a, s in zip(after, stale, strict=True) if a["x"] != s["x"]]
    assert rewritten == ["Un café à Paris"]  # the ASCII and the Chinese messages were not touched
    assert after[0]["search_vector"] != stale[0]["search_vector"]
    assert {str(r["updated_at"].date()) for r in after} == {"2026-01-01"}


async def test_a_chinese_word_after_a_minus_is_left_out_as_an_english_one_is(db: asyncpg.Connection) -> None:
    """`天气 -公园` is weather without the park, as `weather -park` is: the minus of a CJK run was
    dropped and the run ANDed, so it found only the messages holding both."""
    user = await create_user(db, "excluder")
    session = await db.fetchval("insert into chat_sessions (user_id) values ($1) returning id", user)
    english = ("weather at the park", "weather today")
    for text in ("今天天气很好", "天气好，去公园", *english, "公园 散步 天气", "去公园散步 天气"):
        await db.execute(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3)", session, user, text
        )
    assert await _search(db, user, "weather -park") == ["weather today"]
    assert await _search(db, user, "天气 -公园") == ["今天天气很好"]
    assert await _search(db, user, "天气 -公园散步") == sorted(["今天天气很好", "天气好，去公园", "公园 散步 天气"])
    assert await _search(db, user, "天气 -园") == ["今天天气很好"]
    assert await _search(db, user, "x-天气") == []  # a hyphen inside a word is no minus: x and 天气 both
