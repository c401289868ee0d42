"""Running ChatGalaxy as a service, in Debian's Chromium (web/e2e/service.mjs): the usage page and
its chart, API keys, the admin area (and its absence for a user), export and account deletion
from the profile page, in Chinese and English and on a phone. The API runs beside the product
here (export and delete go through it), with a web server that points the SPA at it; each test
below is one step of the journey, and the database and the API are checked for what it claimed.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests.conftest import LocalStack, fake_received, free_port, sign_up, wait_for_http
from tests.e2e.conftest import ROOT, Child, Product, make_admin, no_page_errors, passed, query, spawn
from tests.e2e.journeys import Journey, launcher, prepare_journey

pytestmark = pytest.mark.timeout(420)


@contextmanager
def serving(product: Product, web_dist: Path, logs: Path) -> Iterator[tuple[Product, str]]:
    """The product plus `python -m api` and a web server whose /config.js names that API (its URL)."""
    base = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    stack = product.stack
    api_port, web_port = free_port(), free_port()
    web_origin = f"http://127.0.0.1:{web_port}"
    children: list[Child] = []
    try:
        api = spawn(
            "api",
            ["-m", "api", "--port", str(api_port)],
            {
                **base,
                "SUPABASE_URL": stack.url,
                "SUPABASE_JWT_SECRET": stack.jwt_secret,
                "DATABASE_URL": stack.dsn,
                "API_CORS_ORIGINS": web_origin,
                "API_RATE_AUTH_PER_IP": "1000",
            },
            logs / "api.log",
        )
        children.append(api)
        wait_for_http(f"http://127.0.0.1:{api_port}/health", api.process)
        web = spawn(
            "webserve",
            ["-m", "webserve", "--port", str(web_port), "--dist", str(web_dist)],
            {
                **base,
                "SUPABASE_URL": stack.url,
                "SUPABASE_JWT_SECRET": stack.jwt_secret,
                "API_HOST": "127.0.0.1",
                "API_PORT": str(api_port),
            },
            logs / "webserve.log",
        )
        children.append(web)
        wait_for_http(f"{web_origin}/config.js", web.process)
        yield (
            Product(stack, web_origin, [*product.children, *children], product.fake_url),
            f"http://127.0.0.1:{api_port}",
        )
    finally:
        for child in reversed(children):
            child.stop()


API_CONTEXT = [
    {"role": "system", "content": "You translate into English."},
    {"role": "user", "content": "早上好"},
    {"role": "assistant", "content": "Good morning"},
]


PICTURE = (  # a 2 x 2 PNG
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8EaDBwMDAxMDAwMDAAAAPygFEiUmOcwAAAABJRU5ErkJggg=="
)


def _ask_through_the_api(stack: LocalStack, api_url: str, token: str) -> str:
    """A key "script" asks twice through /v1 with the official SDK: with a system prompt, an earlier
    turn, a picture and two parameters, then a lone question. The key's chat of the day, where both
    were stored."""
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{stack.url}/rest/v1", headers=headers, trust_env=False, timeout=30) as rest:
        made = rest.post("/rpc/create_api_key", json={"key_name": "script"})
        made.raise_for_status()
        key = made.json()
        with openai.OpenAI(base_url=f"{api_url}/v1", api_key=key["key"], max_retries=0, timeout=60) as sdk:
            picture = [{"type": "text", "text": "晚上好"}, {"type": "image_url", "image_url": {"url": PICTURE}}]
            asked: list[Any] = [*API_CONTEXT, {"role": "user", "content": picture}]
            sdk.chat.completions.create(
                model="qwen-turbo",
                messages=asked,
                temperature=0.2,
                max_tokens=50,
            )
            sdk.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": "What is 2 + 2?"}])
        sessions = rest.get("/chat_sessions", params={"select": "id", "api_day": "not.is.null"})
        [session] = sessions.json()
        return str(session["id"])


# Words the fake's answer begins with (its notice), so its reply continues them as the model would.
CONTINUED_WORDS = "[offline model] This reply comes from"


def _continue_through_the_api(stack: LocalStack, api_url: str, token: str) -> dict[str, str]:
    """A key "prefill" asks through /v1 with the official SDK, its last message the assistant's first
    words (Qwen's partial mode): the answer is their continuation. The key's chat of the day, the
    words and the reply the SDK got."""
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{stack.url}/rest/v1", headers=headers, trust_env=False, timeout=30) as rest:
        made = rest.post("/rpc/create_api_key", json={"key_name": "prefill"})
        made.raise_for_status()
        with openai.OpenAI(base_url=f"{api_url}/v1", api_key=made.json()["key"], max_retries=0, timeout=60) as sdk:
            answered = sdk.chat.completions.create(
                model="qwen-turbo",
                messages=[
                    {"role": "user", "content": "Where does this reply come from?"},
                    {"role": "assistant", "content": CONTINUED_WORDS},
                ],
            )
        [session] = rest.get("/chat_sessions", params={"select": "id", "api_day": "not.is.null"}).json()
    return {"session": str(session["id"]), "words": CONTINUED_WORDS, "reply": answered.choices[0].message.content or ""}


async def _arrange(dsn: str, users: dict[str, Any]) -> None:
    """carol has 30 days of settled usage on two models (unfolded: her next admission folds them)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """insert into usage_ledger (user_id, message_id, model, reserved, charged, state, folded,
                                         input_tokens, output_tokens, day, month, created_at, settled_at)
               select $1, gen_random_uuid(), m.model, 0, m.base * (d % 5 + 1), 'settled', false, 10, 20,
                      (now() - make_interval(days => d))::date,
                      date_trunc('month', now() - make_interval(days => d))::date,
                      now() - make_interval(days => d), now() - make_interval(days => d)
                 from generate_series(0, 27, 3) d,
                      (values ('qwen-plus', 1500), ('qwen-turbo', 600)) m(model, base)""",
            users["carol"]["id"],
        )
    finally:
        await conn.close()


@launcher("service")
def start(request: pytest.FixtureRequest, servers: ExitStack) -> Journey:
    """The API and its web server, carol (30 days of usage), dave, erin (two requests through /v1),
    fay (a request whose words its answer continued) and an admin, then the journey (started with the
    others by `journeys`)."""
    product: Product = request.getfixturevalue("product")
    web_dist: Path = request.getfixturevalue("web_dist")
    logs = request.getfixturevalue("tmp_path_factory").mktemp("service-e2e")
    service, api_url = servers.enter_context(serving(product, web_dist, logs))
    stack = service.stack
    tag = uuid.uuid4().hex[:6]
    users: dict[str, Any] = {"tag": tag}
    for name in ("carol", "dave", "erin", "fay", "admin"):
        username = f"{name}_{tag}"
        made = sign_up(stack, username)
        users[name] = {"id": made.id, "email": made.email, "password": made.password, "username": username}
        if name == "erin":
            users[name]["apiSession"] = _ask_through_the_api(stack, api_url, made.access_token)
        if name == "fay":
            users[name]["continued"] = _continue_through_the_api(stack, api_url, made.access_token)
    make_admin(stack, users["admin"]["id"])
    asyncio.run(_arrange(stack.dsn, users))
    chromium_path: str = request.getfixturevalue("chromium_path")
    journey = prepare_journey(service, chromium_path, "service", env={"E2E_USERS": json.dumps(users)})
    journey.extras["users"] = users
    journey.extras["service"] = service
    return journey


@pytest.fixture(scope="module")
def service(journeys: dict[str, Journey]) -> Product:
    product: Product = journeys["service"].extras["service"]
    return product


@pytest.fixture(scope="module")
def journey(journeys: dict[str, Journey]) -> dict[str, Any]:
    started = journeys["service"]
    return {**started.result(), "users": started.extras["users"]}


def test_usage_page_charts_tokens_per_day_and_model(journey: dict[str, Any]) -> None:
    step = passed(journey, "usage page: plan, allowance and the 30-day chart per model (zh)")
    detail = step["detail"]
    assert sorted(detail["legend"]) == ["qwen-plus", "qwen-turbo"]
    assert len(detail["bars"]) == 10  # every third day of the last 28, both models stacked
    assert all(bar["total"] % 2100 == 0 for bar in detail["bars"])
    assert "997,900" in detail["remaining"]  # today's 2,100 (1,500 + 600) of the free plan's 1,000,000
    assert "免费版" in detail["plan"]  # the plan's name in the reader's language, not the stored "Free"
    passed(journey, "usage page in English")


def test_the_admin_area_is_absent_for_a_user(journey: dict[str, Any]) -> None:
    detail = passed(journey, "no admin area for a user: no link, /admin sends them back")["detail"]
    assert detail == {"links": 0, "area": 0, "profileLinks": 0}


def test_a_key_is_shown_once_works_and_is_refused_once_revoked(journey: dict[str, Any], service: Product) -> None:
    created = passed(journey, "create an API key: the secret is shown once")["detail"]
    assert created["shownAgain"] == 0
    assert created["prefixShown"]
    passed(journey, "revoke the key")
    secret = journey["secret"]
    # The page's snippet, run as it is shown, reaches this API with this key: refused, as it is revoked.
    assert f'api_key="{secret}"' in created["snippet"]
    assert created["notes"] == 6
    with pytest.raises(openai.AuthenticationError) as refused:
        exec(created["snippet"], {})  # noqa: S102 - the snippet the page shows is what a user runs
    assert refused.value.code == "invalid_api_key"
    assert "revoked" in str(refused.value)
    rows = asyncio.run(
        query(
            service,
            "select name, prefix, revoked_at is not null as revoked, expires_at > now() + interval '29 days' as month"
            " from api_keys where key_hash = sha256(convert_to($1, 'UTF8'))",
            secret,
        )
    )
    assert [tuple(r) for r in rows] == [("journey key", secret[:12], True, True)]


def test_a_key_whose_answer_is_lost_leaves_one_live_key_whose_secret_was_shown(
    journey: dict[str, Any], service: Product
) -> None:
    detail = passed(journey, "an API key whose answer is lost: one live key, the one whose secret is shown")["detail"]
    assert detail["calls"] == 3  # the create whose answer was lost, its repeat (refused as taken), a new one
    assert len(detail["live"]) == 1
    assert "lost answer key" in detail["live"][0]
    secret = journey["lostAnswerSecret"]
    rows = asyncio.run(
        query(
            service,
            "select revoked_at is not null as revoked, last_used_at is null as unused,"
            " key_hash = sha256(convert_to($1, 'UTF8')) as shown"
            " from api_keys where user_id = $2::uuid and name = 'lost answer key' order by created_at",
            secret,
            journey["users"]["carol"]["id"],
        )
    )
    # The key stored by the lost attempt is revoked unused (nobody saw its secret); the one shown is live.
    assert [tuple(r) for r in rows] == [(True, True, False), (False, True, True)]
    identity = asyncio.run(query(service, "select status from api_key_identity($1)", secret))
    assert [tuple(r) for r in identity] == [("active",)]


def test_usage_and_keys_fit_a_phone(journey: dict[str, Any]) -> None:
    detail = passed(journey, "usage and keys on a phone")["detail"]
    assert detail["width"] <= 390
    assert detail["keysWidth"] <= 390
    assert passed(journey, "admin area on a phone")["detail"]["width"] <= 390


def test_each_answer_shows_its_token_counts_in_both_languages_and_on_a_phone(
    journey: dict[str, Any], service: Product
) -> None:
    detail = passed(journey, "each answer shows its token counts (zh on a phone, en on a desktop)")["detail"]
    rows = asyncio.run(
        query(
            service,
            "select input_tokens, output_tokens from chat_messages where user_id = $1 and message_type = 'assistant'"
            " and session_id not in (select id from chat_sessions where api_day is not null) order by created_at",
            journey["users"]["carol"]["id"],
        )
    )
    assert len(rows) == 2
    for shown, row, words in zip((detail["zh"], detail["en"]), rows, (("输入", "输出"), ("in", "out")), strict=True):
        assert shown["final"] == "true"
        assert row["input_tokens"] > 0
        assert row["output_tokens"] > 0
        assert shown["parts"]["input"] == f"{words[0]} {row['input_tokens']:,}"
        assert shown["parts"]["output"] == f"{words[1]} {row['output_tokens']:,}"
    assert detail["width"] <= 390


def test_an_api_keys_requests_show_the_context_each_sent(journey: dict[str, Any]) -> None:
    step = "an API key's chat: each request shows the context it sent (en desktop, zh phone)"
    detail = passed(journey, step)["detail"]
    assert detail["en"]["questions"] == ["What is 2 + 2?"]  # the newest request; the other is its sibling
    assert detail["en"]["empty"] == 1
    assert detail["zh"]["questions"] == ["晚上好"]
    assert detail["zh"]["messages"] == [[m["role"], m["content"]] for m in API_CONTEXT]
    assert detail["zh"]["labels"] == ["系统", "用户", "助手"]
    # a model asked with no role answers with no persona; with a picture, the vision model answered
    assert detail["zh"]["answerer"] == "qwen-vl-max"
    assert detail["zh"]["parameters"] == "请求参数：max_tokens = 50 · temperature = 0.2"  # as jsonb keeps its keys
    assert detail["zh"]["pictures"] == 1
    assert detail["en"]["parameters"] is None
    assert detail["en"]["answerer"] == "qwen-turbo"
    assert detail["width"] <= 390
    assert detail["webChatToggles"] == 0  # a chat of the web app has no such control


def test_a_follow_up_under_a_requests_answer_is_asked_with_what_the_request_brought(
    journey: dict[str, Any], service: Product
) -> None:
    detail = passed(journey, "a question asked under a request's answer keeps what the request brought (zh phone)")[
        "detail"
    ]
    assert detail["status"] == "completed"
    assert detail["questions"] == ["晚上好", "晚安"]
    assert detail["toggles"] == 1  # the request's question shows its context; the follow-up has none of its own
    assert service.fake_url is not None

    def text(content: str | list[dict[str, str]]) -> str:  # a multimodal message's content is parts
        return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)

    [asked] = [
        [(m["role"], text(m["content"])) for m in body["input"]["messages"]]
        for body in asyncio.run(fake_received(service.fake_url))
        if "input" in body and text(body["input"]["messages"][-1]["content"]) == "晚安"
    ]
    system, *above, _ = asked
    assert system[0] == "system"
    assert system[1].endswith(API_CONTEXT[0]["content"])  # after the role's prompt
    # what the request brought, then its question (its picture aside) and its answer
    assert above[:3] == [(m["role"], m["content"]) for m in API_CONTEXT[1:]] + [("user", "晚上好")]
    assert above[3][0] == "assistant"


def test_each_key_shows_what_it_spent(journey: dict[str, Any], service: Product) -> None:
    detail = passed(journey, "each API key shows what it spent in 30 days (zh phone)")["detail"]
    erin = journey["users"]["erin"]["id"]
    [spent] = asyncio.run(
        query(
            service,
            "select count(*) as requests, sum(coalesce(l.charged, l.reserved)) as tokens from usage_ledger l"
            " join api_keys k on k.id = l.api_key_id where k.user_id = $1 and k.name = 'script'",
            erin,
        )
    )
    assert spent["requests"] == 2  # the SDK's two; the follow-up asked in the web app came through no key
    assert detail["usage"] == [f"近 30 天：{spent['requests']} 次请求 · {spent['tokens']:,} tokens"]
    assert detail["width"] <= 390


def test_an_api_keys_chat_lists_its_requests(journey: dict[str, Any]) -> None:
    detail = passed(journey, "an API key's chat lists its requests to jump between them (zh phone)")["detail"]
    # newest first, each a request of the day (the follow-up asked in the web app is no request)
    assert detail["listed"] == [["What is 2 + 2?", "qwen-turbo"], ["晚上好", "qwen-turbo"]]
    assert "晚上好" in detail["current"]
    assert detail["width"] <= 390


def test_an_answer_that_continued_a_requests_words_shows_them_under_a_note_on_a_phone(
    journey: dict[str, Any], service: Product
) -> None:
    """Its row holds the continuation only; the page shows the request's words, then it, as one
    piece, under a note that says the words were the request's, in both languages."""
    detail = passed(journey, "an answer that continued a request's words shows them under a note (zh and en phone)")[
        "detail"
    ]
    continued = journey["users"]["fay"]["continued"]
    assert continued["reply"]
    assert not continued["reply"].startswith(CONTINUED_WORDS)  # the SDK got the rest alone
    [row] = asyncio.run(
        query(
            service,
            "select content, continues, continued_words(m) as computed from chat_messages m"
            " where session_id = $1 and message_type = 'assistant'",
            continued["session"],
        )
    )
    assert (row["content"], row["continues"], row["computed"]) == (continued["reply"], CONTINUED_WORDS, CONTINUED_WORDS)

    def flat(text: str) -> str:
        return " ".join(text.split())

    for locale, note in (("zh", "续写请求中给出的开头"), ("en", "Continues the words given in the request")):
        shown = detail[locale]
        assert shown["note"] == note
        assert shown["status"] == "completed"
        assert flat(shown["text"]) == flat(CONTINUED_WORDS + continued["reply"])
        assert shown["width"] <= 390


def test_admin_changes_plan_and_disables_and_it_is_audited(journey: dict[str, Any], service: Product) -> None:
    assert (
        passed(journey, "admin area: search a user, change the plan, disable, see usage (zh)")["detail"]["listed"] == 1
    )
    passed(journey, "admin edits a built-in role (en)")
    users = journey["users"]
    [plan] = asyncio.run(
        query(service, "select plan_id, disabled from user_plans where user_id = $1", users["carol"]["id"])
    )
    assert tuple(plan) == ("pro", True)
    events = asyncio.run(
        query(
            service,
            "select details->>'action' as action, details->>'table' as tbl from audit.events"
            " where kind = 'admin_action' and user_id = $1 order by id",
            users["admin"]["id"],
        )
    )
    actions = [(e["action"], e["tbl"]) for e in events]
    assert ("update", "user_plans") in actions
    assert ("update", "ai_roles") in actions
    assert ("view_usage", None) in actions
    assert actions[0] == ("list_users", None)
    role = asyncio.run(query(service, "select name from ai_roles where name = $1", f"Helper {users['tag']}"))
    assert len(role) == 1


def test_export_and_delete_from_the_profile_page(journey: dict[str, Any], service: Product) -> None:
    exported = passed(journey, "export everything from the profile page")["detail"]
    dave = journey["users"]["dave"]
    assert exported["file"] == "chatgalaxy-export.json"
    assert exported["user"] == dave["id"]
    deleted = passed(journey, "delete the account: a wrong password is refused, the right one deletes it")["detail"]
    assert deleted["deletes"] == 1  # its answer lost: found deleted, not sent again
    assert asyncio.run(query(service, "select id from auth.users where id = $1", dave["id"])) == []


def test_no_page_errors_and_screenshots(journey: dict[str, Any]) -> None:
    no_page_errors(journey)
    shots = ROOT / "tests" / "e2e" / "screenshots" / "service"
    names = {p.stem for p in shots.glob("*.png")}
    assert {
        "usage-zh",
        "usage-en",
        "keys-created-en",
        "admin-users-zh",
        "phone-usage-zh",
        "phone-chat-usage-zh",
        "chat-usage-en",
        "profile-account-zh",
        "phone-api-continued-zh",
        "phone-api-continued-en",
    } <= names
