"""The hostile-input table: malformed, oversized, unauthenticated and cross-user requests at every
API endpoint and at the local stack's REST and Auth. Each must be refused with a clear 4xx."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from core.jwt import encode
from drills.rig import Person, Rig

BIG = 200_000  # characters: over the API's 64 KB body limit
HUGE = 2_000_000  # bytes: over the gateway's 1 MB body limit
JUNK_TOKEN = "not.a.jwt"  # noqa: S105 - a deliberately invalid bearer token


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def bad_tokens(rig: Rig, person: Person) -> dict[str, str]:
    secret = rig.settings.supabase.jwt_secret
    now = int(time.time())
    claims = {"sub": person.user_id, "role": "authenticated", "aud": "authenticated"}
    return {
        "expired": encode({**claims, "iat": now - 7200, "exp": now - 3600}, secret),
        "wrong_secret": encode({**claims, "exp": now + 600}, "not-the-secret-" + "x" * 32),
        "alg_none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        + "eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiLCJyb2xlIjoic2VydmljZV9yb2xlIn0.",
        "garbage": JUNK_TOKEN,
    }


def api_probes(api: str, me: Person, other: Person, other_question: str) -> list[Probe]:
    own, theirs, bad = me.session_id, other.session_id, "not-a-uuid"
    ok_user = {"username": "valid_name", "email": f"ok-{uuid.uuid4().hex[:8]}@example.com", "password": "password123"}
    t = me.token
    return [
        Probe("register: not JSON", "POST", f"{api}/api/auth/register", content=b"{nope"),
        Probe("register: empty object", "POST", f"{api}/api/auth/register", json={}),
        Probe(
            "register: wrong types",
            "POST",
            f"{api}/api/auth/register",
            json={"username": 1, "email": [], "password": None},
        ),
        Probe("register: short username", "POST", f"{api}/api/auth/register", json={**ok_user, "username": "a"}),
        Probe("register: bad email", "POST", f"{api}/api/auth/register", json={**ok_user, "email": "nope"}),
        Probe("register: weak password", "POST", f"{api}/api/auth/register", json={**ok_user, "password": "x"}),
        Probe(
            "register: NUL in username", "POST", f"{api}/api/auth/register", json={**ok_user, "username": "a\x00bcd"}
        ),
        Probe("register: oversized", "POST", f"{api}/api/auth/register", json={**ok_user, "username": "u" * BIG}),
        Probe("login: not JSON", "POST", f"{api}/api/auth/login", content=b"\x00\xff\xfe"),
        Probe("login: wrong types", "POST", f"{api}/api/auth/login", json={"email": [], "password": {}}),
        Probe(
            "login: wrong password",
            "POST",
            f"{api}/api/auth/login",
            json={"email": "nobody@example.com", "password": "wrong-one"},
        ),
        Probe("refresh: empty", "POST", f"{api}/api/auth/refresh", json={"refresh_token": ""}),
        Probe("refresh: junk", "POST", f"{api}/api/auth/refresh", json={"refresh_token": "x" * 5000}),
        Probe("refresh: missing", "POST", f"{api}/api/auth/refresh", json={"token": "x"}),
        Probe("logout: anonymous", "POST", f"{api}/api/auth/logout"),
        Probe("me: anonymous", "GET", f"{api}/api/auth/me"),
        Probe("sessions: page 0", "GET", f"{api}/api/sessions?page=0", token=t),
        Probe("sessions: limit 1000", "GET", f"{api}/api/sessions?limit=1000", token=t),
        Probe("sessions: page abc", "GET", f"{api}/api/sessions?page=abc", token=t),
        Probe("sessions: create, title a number", "POST", f"{api}/api/sessions", json={"title": 123}, token=t),
        Probe(
            "sessions: create, unknown role", "POST", f"{api}/api/sessions", json={"role_id": "no_such_role"}, token=t
        ),
        Probe("sessions: create, oversized", "POST", f"{api}/api/sessions", json={"title": "t" * BIG}, token=t),
        Probe("sessions: get, bad id", "GET", f"{api}/api/sessions/{bad}", token=t),
        Probe("sessions: get another's", "GET", f"{api}/api/sessions/{theirs}", token=t),
        Probe(
            "sessions: patch another's", "PATCH", f"{api}/api/sessions/{theirs}", json={"title": "mine now"}, token=t
        ),
        Probe("sessions: patch, title a list", "PATCH", f"{api}/api/sessions/{own}", json={"title": ["x"]}, token=t),
        Probe("sessions: delete another's", "DELETE", f"{api}/api/sessions/{theirs}", token=t),
        Probe("sessions: delete, bad id", "DELETE", f"{api}/api/sessions/{bad}", token=t),
        Probe("send: empty message", "POST", f"{api}/api/chat/send", json={"message": "", "session_id": own}, token=t),
        Probe(
            "send: blank message", "POST", f"{api}/api/chat/send", json={"message": " \n\t", "session_id": own}, token=t
        ),
        Probe(
            "send: too long", "POST", f"{api}/api/chat/send", json={"message": "x" * 8001, "session_id": own}, token=t
        ),
        Probe(
            "send: bad session id", "POST", f"{api}/api/chat/send", json={"message": "hi", "session_id": bad}, token=t
        ),
        Probe(
            "send: another's session",
            "POST",
            f"{api}/api/chat/send",
            json={"message": "hi", "session_id": theirs},
            token=t,
        ),
        Probe(
            "send: message a number", "POST", f"{api}/api/chat/send", json={"message": 5, "session_id": own}, token=t
        ),
        Probe("send: no session", "POST", f"{api}/api/chat/send", json={"message": "hi"}, token=t),
        Probe(
            "send: unknown role",
            "POST",
            f"{api}/api/chat/send",
            json={"message": "hi", "session_id": own, "role_id": "nope_role"},
            token=t,
        ),
        Probe(
            "send: oversized", "POST", f"{api}/api/chat/send", json={"message": "x" * BIG, "session_id": own}, token=t
        ),
        Probe("send: not JSON", "POST", f"{api}/api/chat/send", content=b"message=hi", token=t),
        Probe("send: anonymous", "POST", f"{api}/api/chat/send", json={"message": "hi", "session_id": own}),
        Probe("history: bad session", "GET", f"{api}/api/chat/history?session_id={bad}", token=t),
        Probe("history: another's", "GET", f"{api}/api/chat/history?session_id={theirs}", token=t),
        Probe("history: limit 0", "GET", f"{api}/api/chat/history?limit=0", token=t),
        Probe("history: junk cursor", "GET", f"{api}/api/chat/history?cursor=%%%junk", token=t),
        Probe("search: no q", "GET", f"{api}/api/chat/search", token=t),
        Probe("search: NUL", "GET", f"{api}/api/chat/search?q=%00", token=t),
        Probe("search: q too long", "GET", f"{api}/api/chat/search?q={'q' * 201}", token=t),
        Probe("search: offset -1", "GET", f"{api}/api/chat/search?q=hi&offset=-1", token=t),
        Probe("stop: nothing named", "POST", f"{api}/api/chat/stop", json={}, token=t),
        Probe("stop: bad id", "POST", f"{api}/api/chat/stop", json={"message_id": bad}, token=t),
        Probe("stop: another's session", "POST", f"{api}/api/chat/stop", json={"session_id": theirs}, token=t),
        Probe("profile: anonymous", "GET", f"{api}/api/profile"),
        Probe("profile: empty username", "PATCH", f"{api}/api/profile", json={"username": ""}, token=t),
        Probe("profile: username a number", "PATCH", f"{api}/api/profile", json={"username": 5}, token=t),
        Probe("roles: unknown", "GET", f"{api}/api/roles/no_such_role", token=t),
        Probe("roles: create empty", "POST", f"{api}/api/roles", json={}, token=t),
        Probe("roles: create blank", "POST", f"{api}/api/roles", json={"name": "", "system_prompt": ""}, token=t),
        Probe(
            "roles: create oversized",
            "POST",
            f"{api}/api/roles",
            json={"name": "r", "system_prompt": "p" * BIG},
            token=t,
        ),
        Probe("roles: patch built-in", "PATCH", f"{api}/api/roles/assistant", json={"name": "mine"}, token=t),
        Probe("roles: delete built-in", "DELETE", f"{api}/api/roles/assistant", token=t),
        Probe("unknown route", "GET", f"{api}/api/nope", token=t),
        Probe("wrong method", "DELETE", f"{api}/api/chat/send", token=t),
        Probe("question id as session", "GET", f"{api}/api/sessions/{other_question}", token=t),
    ]


def token_probes(api: str, tokens: dict[str, str]) -> list[Probe]:
    return [Probe(f"me: {kind} token", "GET", f"{api}/api/auth/me", token=token) for kind, token in tokens.items()]


def stack_probes(gw: str, anon: str, me: Person, other: Person, other_question: str) -> list[Probe]:
    rest, key = f"{gw}/rest/v1", {"apikey": anon}
    t = me.token
    row = {"session_id": me.session_id, "user_id": me.user_id, "content": "hi"}
    return [
        Probe("rest: insert, not JSON", "POST", f"{rest}/chat_messages", content=b"{nope", token=t, headers=key),
        Probe(
            "rest: insert, unknown column",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "nope": 1},
            token=t,
            headers=key,
        ),
        Probe(
            "rest: insert an assistant row",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "message_type": "assistant"},
            token=t,
            headers=key,
        ),
        Probe(
            "rest: insert into another's session",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "session_id": other.session_id},
            token=t,
            headers=key,
        ),
        Probe(
            "rest: insert as another user",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "user_id": other.user_id},
            token=t,
            headers=key,
        ),
        Probe(
            "rest: insert, bad uuid",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "session_id": "not-a-uuid"},
            token=t,
            headers=key,
        ),
        Probe(
            "rest: insert, oversized",
            "POST",
            f"{rest}/chat_messages",
            json={**row, "content": "x" * HUGE},
            token=t,
            headers=key,
        ),
        Probe("rest: insert, anonymous", "POST", f"{rest}/chat_messages", json=row, headers=key),
        Probe("rest: filter, bad uuid", "GET", f"{rest}/chat_messages?id=eq.not-a-uuid", token=t, headers=key),
        Probe("rest: unknown column", "GET", f"{rest}/chat_messages?select=nope", token=t, headers=key),
        Probe("rest: bad order", "GET", f"{rest}/chat_messages?order=nope.desc", token=t, headers=key),
        Probe("rest: unknown operator", "GET", f"{rest}/chat_messages?content=zz.x", token=t, headers=key),
        Probe("rest: unknown table", "GET", f"{rest}/nope_table", token=t, headers=key),
        Probe("rest: unknown function", "POST", f"{rest}/rpc/nope", json={}, token=t, headers=key),
        Probe(
            "rest: rpc, wrong arguments", "POST", f"{rest}/rpc/search_messages", json={"wrong": 1}, token=t, headers=key
        ),
        Probe(
            "rest: worker function as a user",
            "POST",
            f"{rest}/rpc/worker_sweep",
            json={"lookback_seconds": 1, "max_results": 1},
            token=t,
            headers=key,
        ),
        Probe("rest: garbage token", "GET", f"{rest}/chat_messages", token=JUNK_TOKEN, headers=key),
        Probe("rest: no key", "GET", f"{rest}/chat_messages"),
        Probe("rest: inverted range", "GET", f"{rest}/chat_messages", token=t, headers={**key, "Range": "10-5"}),
        Probe("rest: bad prefer", "POST", f"{rest}/chat_messages?columns=nope", json=row, token=t, headers=key),
        Probe("auth: signup, not JSON", "POST", f"{gw}/auth/v1/signup", content=b"{nope", headers=key),
        Probe(
            "auth: signup, oversized",
            "POST",
            f"{gw}/auth/v1/signup",
            json={"email": "a@example.com", "password": "p" * HUGE},
            headers=key,
        ),
        Probe(
            "auth: token, wrong types",
            "POST",
            f"{gw}/auth/v1/token?grant_type=password",
            json={"email": 1, "password": []},
            headers=key,
        ),
        Probe("auth: token, unknown grant", "POST", f"{gw}/auth/v1/token?grant_type=nope", json={}, headers=key),
        Probe("auth: user, garbage token", "GET", f"{gw}/auth/v1/user", token=JUNK_TOKEN, headers=key),
        Probe("auth: admin as a user", "GET", f"{gw}/auth/v1/admin/users", token=t, headers=key),
        Probe(
            "rest: answer another's question",
            "PATCH",
            f"{rest}/chat_messages?id=eq.{other_question}",
            json={"content": "pwned"},
            token=t,
            headers=key,
        ),
    ]
