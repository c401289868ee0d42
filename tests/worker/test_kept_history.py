"""The history a worker keeps between a session's turns (worker/histories.py) against the claim
in PostgreSQL: after every step of a conversation that deletes, moves, refuses, edits, cancels and
asks while an answer streams, the history a claim resumes is the one the whole walk gives, and a
plain turn changes nothing that stops the next claim from resuming."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from tests.db.actors import create_user
from worker.database import CLAIM_COLUMNS, claim_row
from worker.histories import Histories, HistoryItem, Walked

LIMIT = 4  # small, so the depth cut (2 x 4 + 1 messages) and the count cut both bite
CLAIM = f"select {CLAIM_COLUMNS} from public.worker_claim($1::uuid[], 'w', 30, 5, $2, $3::uuid[], $4::bigint[])"
WHOLE = (
    f"select {CLAIM_COLUMNS}"
    " from public.worker_claim_contexts(array[$1::uuid], array[$2::uuid], '{1}', '{1}', $3, null, null)"
)
FLUSH = "select * from public.worker_flush('w', 30, $1::jsonb)"


class Conversation:
    def __init__(self, db: asyncpg.Connection, user: str, session: str) -> None:
        self.db = db
        self.user = user
        self.session = session
        self.histories = Histories(LIMIT, 1 << 20)
        self.resumed: list[bool] = []  # per claim: whether it resumed the kept history

    async def ask(self, text: str, parent: str | None = None) -> str:
        """A question following the conversation, or under `parent`."""
        if parent is None:
            sql = "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id"
            return str(await self.db.fetchval(sql, self.session, self.user, text))
        sql = "insert into chat_messages (session_id, user_id, content, parent_id) values ($1, $2, $3, $4) returning id"
        return str(await self.db.fetchval(sql, self.session, self.user, text, parent))

    async def claim(self, question: str, histories: Histories | None = None) -> tuple[str, tuple[HistoryItem, ...]]:
        """Claim `question` naming the kept history (this worker's, or another's `histories`);
        check the joined history against the whole walk."""
        histories = histories or self.histories
        kept = histories.kept(self.session)
        await self.db.execute("set role service_role")
        try:
            [raw] = await self.db.fetch(
                CLAIM,
                [question],
                LIMIT,
                [kept.tip if kept else None],
                [kept.epoch if kept else None],
            )
            row = claim_row(raw)
            [whole_row] = await self.db.fetch(WHOLE, row["id"], question, LIMIT)
            whole = claim_row(whole_row)["history"]
        finally:
            await self.db.execute("reset role")
        history = histories.join(row, kept)
        self.resumed.append(row.get("resumed_at") is not None)
        assert [(h.id, h.type, h.content) for h in history] == list(
            zip(whole.ids, whole.types, whole.contents, strict=True)
        )
        return row["id"], history

    async def finish(self, answer: str, status: str = "completed", error_code: str | None = None) -> None:
        item = {"id": answer, "kind": "finish", "status": status, "content": f"answer {answer[:8]}"}
        if error_code:
            item["error_code"] = error_code
        await self.flush(item)

    async def stream(self, answer: str) -> None:
        await self.flush({"id": answer, "kind": "progress", "known": 0, "delta": "so far"})

    async def flush(self, item: dict[str, Any]) -> None:
        await self.db.execute("set role service_role")
        try:
            assert len(await self.db.fetch(FLUSH, json.dumps([item]))) == 1
        finally:
            await self.db.execute("reset role")

    async def turn(self, text: str) -> tuple[str, str]:
        question = await self.ask(text)
        answer, _ = await self.claim(question)
        await self.finish(answer)
        return question, answer

    async def epoch(self) -> int:
        return int(await self.db.fetchval("select history_epoch from chat_sessions where id = $1", self.session))


def kept_tip(talk: Conversation) -> str | None:
    kept = talk.histories.kept(talk.session)
    return kept.tip if kept is not None else None


@pytest.fixture
async def talk(db: asyncpg.Connection) -> Conversation:
    user = await create_user(db, "kept")
    session = await db.fetchval("insert into chat_sessions (user_id, title) values ($1, 't') returning id", user)
    return Conversation(db, user, str(session))


async def test_a_plain_conversation_resumes_every_claim_after_the_first(talk: Conversation) -> None:
    epoch = await talk.epoch()
    for n in range(6):
        await talk.turn(f"q{n}")
    assert talk.resumed == [False, True, True, True, True, True]
    assert await talk.epoch() == epoch  # asking, claiming, streaming and finishing bump nothing
    _, history = await talk.claim(await talk.ask("last"))
    assert [h.content for h in history if h.type == "user"] == ["q5", "q4"]


async def test_a_requests_messages_stay_with_its_question_while_it_is_in_the_history(
    db: asyncpg.Connection, talk: Conversation
) -> None:
    """An OpenAI-compatible request's messages (question_contexts) ride with its question: the claim
    whose walk reaches it names them, a claim resumed from a kept history still has them, and they go
    when the question leaves the history (LIMIT 4: after two follow-ups)."""
    brought = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "earlier"}]
    request = await talk.ask("the request")
    await db.execute(
        "insert into question_contexts (message_id, user_id, messages) values ($1, $2, $3::jsonb)",
        request,
        talk.user,
        json.dumps(brought),
    )
    answer, history = await talk.claim(request)
    assert history == ()
    await talk.finish(answer)
    carried = []
    for n in range(3):
        answer, history = await talk.claim(await talk.ask(f"follow-up {n}"))
        carried.append([(h.id, list(h.context)) for h in history if h.context])
        await talk.finish(answer)
    assert carried == [[(request, brought)], [(request, brought)], []]
    assert talk.resumed == [False, True, True, True]  # the second follow-up's came from the kept history


async def test_every_change_to_a_read_path_is_seen(db: asyncpg.Connection, talk: Conversation) -> None:
    for n in range(3):
        await talk.turn(f"q{n}")

    # A cancelled answer is on the path but in no history; depths still count it.
    q3 = await talk.ask("q3")
    a3, _ = await talk.claim(q3)
    await talk.finish(a3, "cancelled")
    await talk.turn("q4")
    assert talk.resumed[-1]

    # A question asked while the answer above it streams: that answer may complete later, so
    # nothing read with it in flight is kept; the history kept before stays, and later walks stop
    # there, reading the answer as it is then.
    q5 = await talk.ask("q5")
    a5, _ = await talk.claim(q5)
    await talk.stream(a5)
    q6 = await talk.ask("q6", parent=a5)
    a6, _ = await talk.claim(q6)
    assert talk.resumed[-1]
    assert kept_tip(talk) == q5
    await talk.finish(a5)
    await talk.finish(a6)
    q7, _ = await talk.turn("q7")
    assert talk.resumed[-1]
    assert kept_tip(talk) == q7
    await talk.turn("q8")
    assert talk.resumed[-1]

    # Deleting a question (and so its answer) of the kept part of the path: the question below
    # moves up to the answer above.
    before = await talk.epoch()
    await db.execute("delete from chat_messages where id = $1", q7)
    assert await talk.epoch() > before
    await talk.turn("q9")
    assert not talk.resumed[-1]
    await talk.turn("q10")
    assert talk.resumed[-1]

    # An answer refused for a question already in a kept history (a regeneration of it): that
    # question leaves every later history.
    q11, _ = await talk.turn("q11")
    _, a11b = await talk.turn("q11b")
    again = await db.fetchval(
        "insert into chat_messages (session_id, user_id, message_type, reply_to, answer_no, content, status,"
        " lease_owner, lease_expires_at) values ($1, $2, 'assistant', $3, 2, '', 'streaming', 'w',"
        " now() + interval '30 seconds') returning id",
        talk.session,
        talk.user,
        q11,
    )
    await talk.finish(str(again), "error", "ContentFiltered")
    a12, _ = await talk.claim(await talk.ask("q12", parent=a11b))  # on the path kept for q11b
    assert not talk.resumed[-1]
    await talk.finish(a12)
    kept = talk.histories.kept(talk.session)
    assert kept is not None
    assert q11 not in [h.id for h in kept.items]

    # An edit of a final message (only service_role can) in the kept part of the path.
    _, a13 = await talk.turn("q13")
    assert talk.resumed[-1]
    await talk.turn("q14")
    await db.execute("update chat_messages set content = 'edited' where id = $1", a13)
    q15 = await talk.ask("q15")
    _, history = await talk.claim(q15)
    assert not talk.resumed[-1]
    assert history[2].content == "edited"

    # A question sent before the one above it had an answer sits under that question until the
    # claim of the one above moves it under the answer. Here a worker claims the lower question
    # first and another worker the upper one: what the first read across the pair is not kept, so
    # its next claim in the session does not miss the answer that came between.
    a15 = await db.fetchval("select id from chat_messages where reply_to = $1", q15)
    await talk.finish(str(a15))
    q16 = await talk.ask("q16")
    q17 = await talk.ask("q17", parent=q16)
    a17, _ = await talk.claim(q17)
    assert kept_tip(talk) == q15
    a16, _ = await talk.claim(q16, Histories(LIMIT, 1 << 20))
    assert str(await db.fetchval("select parent_id from chat_messages where id = $1", q17)) == a16
    await talk.finish(a16)
    await talk.finish(a17)
    _, history = await talk.claim(await talk.ask("q18", parent=a17))
    assert [h.id for h in history[:3]] == [a17, q17, a16]


def test_a_history_with_files_is_not_kept() -> None:
    histories = Histories(LIMIT, 1 << 20)
    files = '[{"path": "p", "etag": "e"}]'
    both = Walked(["a1", "q1"], ["assistant", "user"], ["x", "y"], [1, 2], [None, files])
    row: dict[str, Any] = {"reply_to": "q2", "session_id": "s", "epoch": 0, "settled": True}
    assert len(histories.join({**row, "history": both}, None)) == 2
    assert histories.kept("s") is None
    histories.join({**row, "history": Walked(["a1"], ["assistant"], ["x"], [1], [None])}, None)
    kept = histories.kept("s")
    assert kept is not None
    assert kept.tip == "q2"
    assert kept.depths == (1,)


def test_a_resumed_claim_must_name_what_it_resumes() -> None:
    histories = Histories(LIMIT, 1 << 20)
    nothing = Walked([], [], [], [], [])
    row = {"reply_to": "q", "session_id": "s", "epoch": 0, "settled": True, "history": nothing, "resumed_at": 2}
    with pytest.raises(ValueError, match="not named"):
        histories.join(row, None)
