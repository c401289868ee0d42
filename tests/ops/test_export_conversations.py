"""The account export holds each conversation whole: its tree (every branch, which answer is which,
where the user stood), each answer's thinking and web sources, each chat's settings."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pyotp
from supabase import AsyncClientOptions, acreate_client

from tests.api.conftest import error_of, new_session, register_and_login
from tests.conftest import LocalStack

SOURCES = [{"index": 1, "title": "West Lake", "url": "https://example.com/west-lake", "site_name": "Example"}]


async def _question(pg: asyncpg.Connection, session_id: str, user_id: str, text: str, parent: str | None) -> str:
    """A question under `parent` (None: a new root, as an edit of the first question makes)."""
    return str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, content, parent_id, web_search)"
            " values ($1, $2, $3, $4, true) returning id",
            session_id,
            user_id,
            text,
            parent,
        )
    )


async def _answer(pg: asyncpg.Connection, question: str, text: str, number: int = 1) -> str:
    return str(
        await pg.fetchval(
            "insert into chat_messages (session_id, user_id, message_type, content, reply_to, answer_no, status,"
            " model, reasoning, reasoning_ms, reasoning_tokens, sources, search_calls)"
            " select session_id, user_id, 'assistant', $2, id, $3, 'completed', 'qwen-plus', 'Let me think.',"
            " 1200, 42, $4::text::jsonb, 1 from chat_messages where id = $1 returning id",
            question,
            text,
            number,
            json.dumps(SOURCES),
        )
    )


async def test_the_export_keeps_every_branch_and_what_each_answer_carried(
    http: httpx.AsyncClient, pg: asyncpg.Connection, stack: LocalStack
) -> None:
    user = await register_and_login(http)
    session = await new_session(http, user, title="Hangzhou")
    first = await _question(pg, session["id"], user.id, "What to see in Hangzhou?", None)
    answer = await _answer(pg, first, "West Lake [1].")
    again = await _answer(pg, first, "Lingyin Temple.", 2)  # regenerated
    follow = await _question(pg, session["id"], user.id, "And to eat?", answer)
    edited = await _question(pg, session["id"], user.id, "What to see in Suzhou?", None)  # the first, edited
    await pg.execute(
        "update chat_sessions set current_leaf_id = $2, pinned_at = now(), thinking = true where id = $1",
        session["id"],
        follow,
    )

    response = await http.get("/api/account/export", headers=user.headers)
    assert response.status_code == 200, response.text
    document = response.json()
    [exported] = document["sessions"]
    assert exported["branched"] is True
    assert exported["current_leaf_id"] == follow
    assert exported["pinned_at"] is not None
    assert exported["thinking"] is True
    messages: dict[str, dict[str, Any]] = {m["id"]: m for m in document["messages"]}
    assert {k: messages[k]["parent_id"] for k in (first, answer, again, follow, edited)} == {
        first: None,
        answer: first,
        again: first,
        follow: answer,
        edited: None,
    }
    assert [messages[k]["answer_no"] for k in (answer, again)] == [1, 2]
    assert messages[first]["web_search"] is True
    for reply in (answer, again):
        assert messages[reply]["reasoning"] == "Let me think."
        assert (messages[reply]["reasoning_ms"], messages[reply]["reasoning_tokens"]) == (1200, 42)
        assert messages[reply]["sources"] == SOURCES
        assert messages[reply]["search_calls"] == 1
    for internal in ("lease_owner", "lease_expires_at", "attempts", "cancel_requested", "search_vector"):
        assert internal not in messages[first]


async def test_a_two_factor_users_export_needs_the_code_and_is_never_silently_empty(
    http: httpx.AsyncClient, stack: LocalStack
) -> None:
    """At aal1 RLS hides a two-factor user's data: an export then was a well-formed document with
    no sessions or messages, which a client saved as the complete account."""
    user = await register_and_login(http)
    session = await new_session(http, user, title="Mine")
    member = await acreate_client(
        stack.url, stack.anon_key, AsyncClientOptions(persist_session=False, auto_refresh_token=False)
    )
    await member.auth.sign_in_with_password({"email": user.email, "password": user.password})
    enrolled = await member.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "phone"})
    secret = enrolled.totp.secret  # type: ignore[union-attr]
    await member.auth.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": pyotp.TOTP(secret).now()})

    login = await http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 200, login.text
    refused = await http.get("/api/account/export", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert refused.status_code == 403, refused.text
    assert error_of(refused)["code"] == "SecondFactorRequired"

    raised = await member.auth.get_session()
    assert raised is not None
    exported = await http.get("/api/account/export", headers={"Authorization": f"Bearer {raised.access_token}"})
    assert exported.status_code == 200, exported.text
    assert [s["id"] for s in exported.json()["sessions"]] == [session["id"]]


async def test_a_deleted_accounts_token_exports_nothing(http: httpx.AsyncClient) -> None:
    """Its token outlives the account until it expires; it got an empty document as if it were one."""
    user = await register_and_login(http)
    deleted = await http.request("DELETE", "/api/account", json={"password": user.password}, headers=user.headers)
    assert deleted.status_code == 200, deleted.text
    refused = await http.get("/api/account/export", headers=user.headers)
    assert (refused.status_code, error_of(refused)["code"]) == (401, "InvalidToken")


async def test_the_export_lists_the_share_links_with_what_each_shows(http: httpx.AsyncClient) -> None:
    """Share links are what of the account anyone may read; the export said nothing of them."""
    user, other = await register_and_login(http), await register_and_login(http)
    session = await new_session(http, user, title="Public")
    flags = {"include_reasoning": True}
    made = await http.post(f"/api/sessions/{session['id']}/share", json=flags, headers=user.headers)
    assert made.status_code == 201, made.text
    theirs = await new_session(http, other)
    assert (await http.post(f"/api/sessions/{theirs['id']}/share", headers=other.headers)).status_code == 201

    document = (await http.get("/api/account/export", headers=user.headers)).json()
    [share] = document["shares"]
    assert share["id"] == made.json()["share"]["id"]
    assert (share["session_id"], share["title"], share["include_reasoning"]) == (session["id"], "Public", True)
    assert share["messages"] == []  # what the link shows, frozen when it was made
    assert made.json()["share"]["token"] not in json.dumps(document)
