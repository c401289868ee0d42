"""The OpenAI-compatible API through the official `openai` SDK (and raw SSE for the exact chunk
format): keys, models, answers stored in the user's history, quota, and OpenAI-style errors."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

import asyncpg
import httpx
import openai
import postgrest
import pytest
from supabase import AsyncClient, acreate_client

from api.compat.keys import mint_token
from core.jwt import KeySet
from fakescope.server import FakeScope
from tests.api.conftest import ApiProcess, ApiUser, client_for, create_key, register_and_login
from tests.api.test_plans import put_on_plan
from tests.conftest import LocalStack
from worker.app import Worker


@pytest.fixture
def owner(alice: ApiUser) -> ApiUser:
    """The key's user: alice, whose `rest` and `sdk` (conftest) these tests use."""
    return alice


async def test_models_list_the_plans_models_and_roles(sdk: openai.AsyncOpenAI) -> None:
    ids = [model.id async for model in sdk.models.list()]
    assert {"qwen-turbo", "qwen-plus", "role:assistant", "role:tech_expert"} <= set(ids)
    assert "*" not in ids
    assert (await sdk.models.retrieve("qwen-plus")).id == "qwen-plus"


async def test_a_completion_is_answered_and_stored_in_the_users_history(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, owner: ApiUser, http: httpx.AsyncClient, worker: Worker
) -> None:
    done = await sdk.chat.completions.create(
        model="qwen-plus", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hi!"}]
    )
    answer = done.choices[0].message.content
    assert answer
    assert done.choices[0].finish_reason == "stop"
    assert done.model == "qwen-plus"
    row = await pg.fetchrow(
        "select a.content, a.model, a.input_tokens, a.output_tokens, s.title, q.user_id"
        " from chat_messages a join chat_messages q on q.id = a.reply_to join chat_sessions s on s.id = a.session_id"
        " where q.content = 'Hi!' and q.user_id = $1",
        owner.id,
    )
    assert row["content"] == answer
    assert row["model"] == "qwen-plus"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (row["input_tokens"], row["output_tokens"])
    assert row["title"].startswith("API · ci · ")
    charged = await pg.fetchval(
        "select charged from usage_ledger where user_id = $1 and state = 'settled' and model = 'qwen-plus'", owner.id
    )
    assert charged == row["input_tokens"] * 2 + row["output_tokens"] * 4


async def test_a_failed_answer_names_the_stored_question_so_the_client_does_not_ask_again(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, fake: FakeScope, worker: Worker
) -> None:
    """The question is stored and its answer failed (no retry): the error names the question
    (`X-ChatGalaxy-Message`), as a timeout's and an outage's do. A refusal of the words themselves
    is the client's to change, as DashScope's compatible mode and OpenAI say it (400
    data_inspection_failed: the SDK's BadRequestError); it was a 502 server_error, which clients
    take for the service's own failure."""
    question = f"Moderate me {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(trust_env=False) as admin:
        scripted = await admin.post(f"{fake.base_url}/_fake/faults", json={"next": [{"fault": "input_moderation"}]})
        scripted.raise_for_status()
    with pytest.raises(openai.BadRequestError) as failed:
        await sdk.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": question}])
    assert (failed.value.status_code, failed.value.response.headers["x-should-retry"]) == (400, "false")
    assert (failed.value.code, failed.value.type) == ("data_inspection_failed", "invalid_request_error")
    named = uuid.UUID(failed.value.response.headers["x-chatgalaxy-message"])
    assert await pg.fetchval("select content from chat_messages where id = $1", named) == question


async def test_the_sdk_streams_an_answer_that_then_appears_in_the_history(
    sdk: openai.AsyncOpenAI, owner: ApiUser, http: httpx.AsyncClient, worker: Worker
) -> None:
    stream = await sdk.chat.completions.create(
        model="role:tech_expert",
        messages=[{"role": "user", "content": "Explain streaming."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    reasons: list[str] = []
    usage = None
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            if chunk.choices[0].finish_reason:
                reasons.append(chunk.choices[0].finish_reason)
        if chunk.usage is not None:
            usage = chunk.usage
    text = "".join(pieces)
    assert len(pieces) > 3
    assert reasons == ["stop"]
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    sessions = (await http.get("/api/sessions", headers=owner.headers)).json()["sessions"]
    [session] = [s for s in sessions if s["title"].startswith("API · ci")]
    history = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=owner.headers)
    stored = {m["message_type"]: m for m in history.json()["messages"]}
    assert stored["user"]["content"] == "Explain streaming."
    assert stored["user"]["role_id"] == "tech_expert"
    assert stored["assistant"]["content"] == text


async def test_raw_sse_is_openais_exact_chunk_format(api: ApiProcess, rest: AsyncClient, worker: Worker) -> None:
    key = await create_key(rest, "raw")
    body = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "one"}], "stream": True}
    async with (
        httpx.AsyncClient(trust_env=False, timeout=40) as client,
        client.stream(
            "POST", f"{api.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key['key']}"}
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream"), await response.aread()
        events = [line async for line in response.aiter_lines() if line]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(e.startswith("data: ") for e in events)
    assert {tuple(sorted(c)) for c in chunks} == {("choices", "created", "id", "model", "object", "system_fingerprint")}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


async def test_every_chunk_names_the_model_that_answered_as_the_completion_does(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, owner: ApiUser, worker: Worker
) -> None:
    """OpenAI's `model` is the model that answered: a role's, not `role:<slug>`, from the first chunk
    (the content chunks named the role until 12-05, the closing ones the model)."""
    stream = await sdk.chat.completions.create(
        model="role:tech_expert", messages=[{"role": "user", "content": "streamed"}], stream=True
    )
    streamed = {chunk.model async for chunk in stream}
    done = await sdk.chat.completions.create(model="role:tech_expert", messages=[{"role": "user", "content": "plain"}])
    stored = await pg.fetch(
        "select a.model from chat_messages a join chat_messages q on q.id = a.reply_to"
        " where q.user_id = $1 and q.content in ('streamed', 'plain')",
        owner.id,
    )
    assert streamed == {done.model} == {r["model"] for r in stored} == {"qwen-turbo"}


async def test_openai_style_errors(
    api: ApiProcess, rest: AsyncClient, owner: ApiUser, pg: asyncpg.Connection, sdk: openai.AsyncOpenAI
) -> None:
    ask = {"messages": [{"role": "user", "content": "hello"}]}
    with pytest.raises(openai.NotFoundError) as bad_model:
        await sdk.chat.completions.create(model="gpt-4o", **ask)  # type: ignore[call-overload]
    assert bad_model.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="role:no_such_role", **ask)  # type: ignore[call-overload]
    # A role its owner switched off answers nothing (the worker would answer as the assistant).
    await pg.execute(
        "insert into ai_roles (slug, name, system_prompt, is_active, created_by)"
        " values ('switched-off', 'Off', 'Nothing.', false, $1)",
        owner.id,
    )
    asked = await pg.fetchval("select count(*) from chat_messages where user_id = $1", owner.id)
    with pytest.raises(openai.NotFoundError) as off:
        await sdk.chat.completions.create(model="role:switched-off", **ask)  # type: ignore[call-overload]
    assert (off.value.code, off.value.param) == ("model_not_found", "model")
    assert await pg.fetchval("select count(*) from chat_messages where user_id = $1", owner.id) == asked
    with pytest.raises(openai.BadRequestError) as no_question:
        await sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "system", "content": "x"}])
    assert no_question.value.param == "messages"

    for wrong in ("sk-cg-" + "0" * 48, "not-a-key"):
        stranger = openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key=wrong, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as bad_key:
            await stranger.models.list()
        assert bad_key.value.code == "invalid_api_key"
        body = bad_key.value.body
        assert isinstance(body, dict)
        assert set(body) == {"message", "type", "param", "code"}

    revoked = await create_key(rest, "revoked")
    await rest.rpc("revoke_api_key", {"key_id": revoked["id"]}).execute()
    expired = await create_key(rest, "expired", "2099-01-01T00:00:00Z")
    await pg.execute("update api_keys set expires_at = now() - interval '1 second' where id = $1", expired["id"])
    for key, why in ((revoked, "revoked"), (expired, "expired")):
        client = openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key=key["key"], max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            await client.chat.completions.create(model="qwen-turbo", **ask)  # type: ignore[call-overload]
        assert why in refused.value.message

    before = await pg.fetchval("select count(*) from chat_messages where user_id = $1", owner.id)
    await put_on_plan(pg, owner, f"tiny-{owner.id[:8]}", tokens_per_day=10)
    with pytest.raises(openai.RateLimitError) as quota:
        await sdk.chat.completions.create(model="qwen-turbo", **ask)  # type: ignore[call-overload]
    assert quota.value.code == "insufficient_quota"
    assert int(quota.value.response.headers["retry-after"]) > 0
    assert await pg.fetchval("select count(*) from chat_messages where user_id = $1", owner.id) == before

    await pg.execute("update user_plans set disabled = true where user_id = $1", owner.id)
    with pytest.raises(openai.PermissionDeniedError) as disabled:
        await sdk.chat.completions.create(model="qwen-turbo", **ask)  # type: ignore[call-overload]
    assert disabled.value.code == "account_disabled"


async def test_a_body_over_the_size_limit_is_413_request_too_large_and_stores_nothing(
    api: ApiProcess, rest: AsyncClient, owner: ApiUser, pg: asyncpg.Connection
) -> None:
    """As the rest of the API answers it (it was "not valid JSON", a 400); /v1's own limit is
    API_V1_MAX_BODY_BYTES (a request carries its whole conversation)."""
    key = await create_key(rest)
    body = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "hi"}], "user": "x" * 21_000_000}
    async with httpx.AsyncClient(base_url=api.url, trust_env=False, timeout=30) as http:
        refused = await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key['key']}"})
    assert refused.status_code == 413
    assert refused.json()["error"] | {"message": None} == {
        "message": None,
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }
    assert await pg.fetchval(QUESTIONS, owner.id) == 0


async def test_a_key_cannot_mint_keys_or_act_as_admin(api: ApiProcess, rest: AsyncClient, stack: LocalStack) -> None:
    """The token a key acts with is a plain user token: it creates no keys (checked in SQL)."""

    key = await create_key(rest)
    user = (await rest.auth.get_user()).user  # type: ignore[union-attr]
    token = mint_token(user.id, key["id"], KeySet(stack.jwt_secret), is_anonymous=False)
    async with httpx.AsyncClient(trust_env=False) as client:
        made = await client.post(
            f"{stack.url}/rest/v1/rpc/create_api_key",
            json={"key_name": "again"},
            headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"},
        )
    assert made.status_code == 403, made.text


async def test_a_guest_makes_no_key_and_a_key_a_guest_made_before_keeps_the_guest_limit(
    api: ApiProcess, stack: LocalStack, pg: asyncpg.Connection
) -> None:
    guest = await acreate_client(stack.url, stack.anon_key)
    signed = await guest.auth.sign_in_anonymously()
    assert signed.user is not None
    guest_id = uuid.UUID(signed.user.id)
    with pytest.raises(postgrest.APIError) as refused:
        await guest.rpc("create_api_key", {"key_name": "script"}).execute()
    assert refused.value.code == "GuestNotAllowed"
    secret = f"sk-cg-{uuid.uuid4().hex}"  # a key made before guests were refused keys
    await pg.execute(
        "insert into api_keys (user_id, name, prefix, key_hash)"
        " values ($1, 'old', left($2, 12), sha256(convert_to($2, 'UTF8')))",
        guest_id,
        secret,
    )
    session = await pg.fetchval("insert into chat_sessions (user_id) values ($1) returning id", guest_id)
    await pg.execute(  # the guest's 20 questions, stored by a trusted role (not admitted)
        "insert into chat_messages (session_id, user_id, content)"
        " select $1, $2, 'q' || g from generate_series(1, 20) g",
        session,
        guest_id,
    )
    body = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "a 21st question"}]}
    async with httpx.AsyncClient(trust_env=False, timeout=40) as client:
        response = await client.post(
            f"{api.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}
        )
    assert (response.status_code, response.json()["error"]["code"]) == (403, "Forbidden"), response.text
    assert await pg.fetchval(QUESTIONS, guest_id) == 20


async def test_a_header_names_the_session_and_only_the_users_own(
    api: ApiProcess, sdk: openai.AsyncOpenAI, owner: ApiUser, http: httpx.AsyncClient, worker: Worker
) -> None:
    mine = (await http.post("/api/sessions", json={"title": "from the web"}, headers=owner.headers)).json()["session"]
    done = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": "into my web session"}],
        extra_headers={"X-ChatGalaxy-Session": mine["id"]},
    )
    history = await http.get("/api/chat/history", params={"session_id": mine["id"]}, headers=owner.headers)
    assert [m["content"] for m in history.json()["messages"] if m["message_type"] == "assistant"] == [
        done.choices[0].message.content
    ]
    stranger = await register_and_login(http)
    theirs = (await http.post("/api/sessions", json={}, headers=stranger.headers)).json()["session"]
    with pytest.raises(openai.NotFoundError) as refused:
        await sdk.chat.completions.create(
            model="qwen-turbo",
            messages=[{"role": "user", "content": "into theirs"}],
            extra_headers={"X-ChatGalaxy-Session": theirs["id"]},
        )
    assert refused.value.code == "session_not_found"
    stored = await http.get("/api/chat/history", params={"session_id": theirs["id"]}, headers=stranger.headers)
    assert stored.json()["messages"] == []


QUESTIONS = "select count(*) from chat_messages where user_id = $1 and message_type = 'user'"
RATE_WINDOW = 3600  # one fixed window holds the whole test (a start too close to its end waits for the next)


async def start_of_a_window() -> None:
    remaining = RATE_WINDOW - time.time() % RATE_WINDOW
    if remaining < 30:
        await asyncio.sleep(remaining + 0.05)


async def test_sends_through_a_key_count_against_the_users_rate_limit_and_dead_keys_count_nothing(
    spawn_api: Callable[..., ApiProcess], rest: AsyncClient, owner: ApiUser, pg: asyncpg.Connection
) -> None:
    limited = spawn_api(
        API_RATE_SEND_PER_USER="2",
        API_RATE_SEND_PER_IP="100000",
        API_RATE_WINDOW=str(RATE_WINDOW),
        API_ANSWER_TIMEOUT="0.01",
    )
    live, revoked = await create_key(rest, "live"), await create_key(rest, "dead")
    await rest.rpc("revoke_api_key", {"key_id": revoked["id"]}).execute()
    body = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "count me"}]}
    async with httpx.AsyncClient(base_url=f"{limited.url}/v1", timeout=30, trust_env=False) as client:

        async def send(key: dict[str, str]) -> httpx.Response:
            return await client.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key['key']}"})

        await start_of_a_window()
        statuses = [(await send(revoked)).status_code for _ in range(3)]
        statuses += [(await send(live)).status_code for _ in range(2)]
        stored = await pg.fetchval(QUESTIONS, owner.id)
        refused = await send(live)
    assert statuses[:3] == [401, 401, 401]
    assert all(status in {200, 504} for status in statuses[3:])  # stored: the revoked key took none of the two
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "x-should-retry" not in refused.headers  # worth asking again after its Retry-After
    assert 1 <= int(refused.headers["retry-after"]) <= RATE_WINDOW
    assert await pg.fetchval(QUESTIONS, owner.id) == stored  # (answers to the stored two may still arrive)


async def _streamed(sdk: openai.AsyncOpenAI, text: str, session: str | None = None) -> str:
    stream = await sdk.chat.completions.create(
        model="qwen-turbo",
        messages=[{"role": "user", "content": text}],
        stream=True,
        extra_headers={"X-ChatGalaxy-Session": session} if session else None,
    )
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


async def test_a_session_header_in_capitals_names_the_same_session_and_its_stream_joins_at_once(
    api: ApiProcess, sdk: openai.AsyncOpenAI, owner: ApiUser, http: httpx.AsyncClient, worker: Worker
) -> None:
    """A UUID is the same in capitals. The answer stream's channel is named by the session's id as
    the database writes it, so the early join must use that form: it once joined the capitals'
    topic, was refused by Realtime's policy, logged a warning with a traceback and joined again."""
    mine = (await http.post("/api/sessions", json={}, headers=owner.headers)).json()["session"]
    logged = api.log.stat().st_size
    text = await _streamed(sdk, "in capitals", mine["id"].upper())
    history = await http.get("/api/chat/history", params={"session_id": mine["id"]}, headers=owner.headers)
    assert {m["message_type"]: m["content"] for m in history.json()["messages"]} == {
        "user": "in capitals",
        "assistant": text,
    }
    assert b"answer stream not joined" not in api.log.read_bytes()[logged:]


async def test_paths_under_v1_that_no_route_serves_answer_in_openais_shape(http: httpx.AsyncClient) -> None:
    """An unknown path or method under /v1 is refused as OpenAI refuses it, so its SDKs read the
    error (it was the rest of the API's envelope); elsewhere the envelope stays."""
    for method, path, status in (
        ("GET", "/v1/nothing", 404),
        ("GET", "/v1", 404),
        ("GET", "/v1/chat/completions", 405),
        ("DELETE", "/v1/models", 405),
    ):
        refused = await http.request(method, path)
        assert refused.status_code == status
        allowed = {m.strip() for m in refused.headers["allow"].split(",")} if status == 405 else None
        assert allowed == (None if status == 404 else {"POST" if "chat" in path else "GET", "OPTIONS"})
        assert refused.json() == {
            "error": {
                "message": f"Invalid URL ({method} {path})",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    assert (await http.get("/api/nothing")).json()["error"]["code"] == "RouteNotFound"
    wrong = await http.put("/api/roles")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "MethodNotAllowed")
    assert {m.strip() for m in wrong.headers["allow"].split(",")} == {"GET", "POST", "OPTIONS"}


async def test_a_stream_follows_its_question_into_a_new_days_session_after_the_old_one_was_deleted(
    sdk: openai.AsyncOpenAI, rest: AsyncClient, pg: asyncpg.Connection, owner: ApiUser, worker: Worker
) -> None:
    """The API starts the answer stream's join on the session it expects (the key's session of the
    day, as it last saw it); when that session is gone the question lands in a new one, and the
    stream must follow it there and still bring the whole answer."""
    first = await _streamed(sdk, "first")
    [old] = await pg.fetch("select id from chat_sessions where user_id = $1 and api_key_id is not null", owner.id)
    await rest.table("chat_sessions").delete().eq("id", str(old["id"])).execute()
    second = await _streamed(sdk, "second")
    rows = await pg.fetch(
        "select s.id, m.content from chat_sessions s join chat_messages m on m.session_id = s.id"
        " where s.user_id = $1 and m.message_type = 'assistant'",
        owner.id,
    )
    assert first
    assert [(r["id"] != old["id"], r["content"]) for r in rows] == [(True, second)]


@pytest.mark.usefixtures("worker")
async def test_a_completion_sent_again_with_its_idempotency_key_is_stored_and_charged_once(
    sdk: openai.AsyncOpenAI, pg: asyncpg.Connection, owner: ApiUser, stack: LocalStack, http: httpx.AsyncClient
) -> None:
    """The SDKs send a request again by themselves after a timeout or a dropped connection, where no
    response can tell them not to; with an `Idempotency-Key` the question is stored (and charged)
    once and the same answer comes back. The key of a different question is refused; another user's
    same key is theirs."""
    ask = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "once, please"}]}
    keyed = {"Idempotency-Key": "retry-1"}
    first = await sdk.chat.completions.create(**ask, extra_headers=keyed)  # type: ignore[call-overload]
    again = await sdk.chat.completions.create(**ask, extra_headers=keyed)  # type: ignore[call-overload]
    assert again.choices[0].message.content == first.choices[0].message.content
    other = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "something else"}]}
    refusals = {"idempotency_key_reused": keyed, "invalid_idempotency_key": {"Idempotency-Key": "k" * 256}}
    for code, headers in refusals.items():
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.chat.completions.create(**other, extra_headers=headers)  # type: ignore[call-overload]
        assert refused.value.code == code
    assert await pg.fetchval(QUESTIONS, owner.id) == 1
    charged = await pg.fetchval(
        "select count(*) from usage_ledger where user_id = $1"
        " and message_id <> md5('title:' || session_id::text)::uuid",  # the title's charge
        owner.id,
    )
    assert charged == 1

    stranger = await register_and_login(http)
    key = await create_key(await client_for(stack, stranger))
    theirs = openai.AsyncOpenAI(base_url=sdk.base_url, api_key=key["key"], max_retries=0)
    async with theirs:
        await theirs.chat.completions.create(**ask, extra_headers=keyed)  # type: ignore[call-overload]
    assert await pg.fetchval(QUESTIONS, stranger.id) == 1
