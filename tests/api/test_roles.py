"""Roles: the seed's role objects, and private custom roles that no other user can reach."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from postgrest.exceptions import APIError

from tests.api.conftest import ApiUser, client_for, error_of, make_admin
from tests.conftest import LocalStack, rows_of
from worker.app import Worker

SEED_ENGLISH = {
    "assistant": {
        "name": "Smart Assistant",
        "description": "A professional AI assistant that can answer all kinds of questions",
    },
    "creative_writer": {"name": "Creative Writer", "description": "A creative writing assistant"},
    "tech_expert": {"name": "Tech Expert", "description": "A professional technical adviser"},
    "casual_chat": {"name": "Casual Chat", "description": "A relaxed, cheerful companion to chat with"},
}
SEED_ROLES = {
    "assistant": "智能助手",
    "creative_writer": "创意作家",
    "tech_expert": "技术专家",
    "casual_chat": "轻松聊天",
}


async def test_roles_lists_the_seed_roles_in_the_seed_shape(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.get("/api/roles", headers=alice.headers)
    body = response.json()
    assert body["success"] is True
    assert {r["id"]: r["name"] for r in body["roles"]} == SEED_ROLES
    assistant = body["roles"][0]
    assert set(assistant) >= {"id", "name", "description", "avatar_url", "system_prompt"}
    assert assistant["description"] == "专业的AI助手，可以回答各种问题"


async def test_custom_role_lifecycle(http: httpx.AsyncClient, alice: ApiUser) -> None:
    slug = f"poet-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/api/roles",
        json={"id": slug, "name": "诗人", "system_prompt": "你是一位诗人。", "description": "writes poems"},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"] | {"uuid": None} == {
        "id": slug,
        "name": "诗人",
        "description": "writes poems",
        "avatar_url": None,
        "system_prompt": "你是一位诗人。",
        "uuid": None,
        "is_custom": True,
        "translations": {},
    }
    listed = await http.get("/api/roles", headers=alice.headers)
    assert slug in {r["id"] for r in listed.json()["roles"]}
    renamed = await http.patch(f"/api/roles/{slug}", json={"name": "大诗人"}, headers=alice.headers)
    assert renamed.json()["role"]["name"] == "大诗人"
    deleted = await http.delete(f"/api/roles/{slug}", headers=alice.headers)
    assert deleted.json()["success"] is True
    gone = await http.get(f"/api/roles/{slug}", headers=alice.headers)
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "RoleNotFound"


async def test_user_b_cannot_see_or_change_user_a_custom_role(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    slug = f"secret-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/api/roles", json={"id": slug, "name": "Secret", "system_prompt": "shh"}, headers=alice.headers
    )
    role_uuid = created.json()["role"]["uuid"]
    listed = await http.get("/api/roles", headers=bob.headers)
    assert slug not in {r["id"] for r in listed.json()["roles"]}
    for ref in (slug, role_uuid):
        assert (await http.get(f"/api/roles/{ref}", headers=bob.headers)).status_code == 404
        assert (await http.patch(f"/api/roles/{ref}", json={"name": "x"}, headers=bob.headers)).status_code == 404
        assert (await http.delete(f"/api/roles/{ref}", headers=bob.headers)).status_code == 404
    still = await http.get(f"/api/roles/{slug}", headers=alice.headers)
    assert still.json()["role"]["name"] == "Secret"


async def test_builtin_roles_are_read_only(http: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await http.patch("/api/roles/assistant", json={"name": "mine"}, headers=alice.headers)
    assert response.status_code == 403
    assert error_of(response)["code"] == "RoleNotEditable"


async def test_custom_role_cannot_take_a_builtin_slug_or_a_bad_one(http: httpx.AsyncClient, alice: ApiUser) -> None:
    taken = await http.post(
        "/api/roles", json={"id": "assistant", "name": "x", "system_prompt": "y"}, headers=alice.headers
    )
    assert taken.status_code == 409
    assert error_of(taken) | {"message": ""} == {"code": "SlugTaken", "field": "id", "message": ""}
    bad = await http.post(
        "/api/roles", json={"id": "Bad Slug!", "name": "x", "system_prompt": "y"}, headers=alice.headers
    )
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "id"


async def test_a_role_name_or_prompt_holds_no_control_character_but_a_line_break_or_a_tab(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    made = await http.post(
        "/api/roles", json={"name": "Tabs\tok", "system_prompt": "Line one\nline two\tindented"}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    role_id = made.json()["role"]["id"]
    for field, value in (
        ("name", "bell\x07"),
        ("system_prompt", "a\rb"),
        ("system_prompt", "esc\x1b[31m"),
        ("name", "c1\x9b"),
    ):
        for method, path in (("POST", "/api/roles"), ("PATCH", f"/api/roles/{role_id}")):
            body = {"name": "n", "system_prompt": "p", field: value} if method == "POST" else {field: value}
            response = await http.request(method, path, json=body, headers=alice.headers)
            assert (response.status_code, error_of(response)["code"], error_of(response)["field"]) == (
                422,
                "InvalidText",
                field,
            ), (method, value, response.text)


async def test_roles_need_a_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/roles")
    assert response.status_code == 401


async def test_roles_carry_their_names_and_descriptions_in_english(http: httpx.AsyncClient, alice: ApiUser) -> None:
    listed = (await http.get("/api/roles", headers=alice.headers)).json()["roles"]
    assert {r["id"]: r["translations"] for r in listed} == {slug: {"en": t} for slug, t in SEED_ENGLISH.items()}
    assistant = next(r for r in listed if r["id"] == "assistant")
    for ref in ("assistant", assistant["uuid"]):
        one = (await http.get(f"/api/roles/{ref}", headers=alice.headers)).json()["role"]
        assert one["translations"] == {"en": SEED_ENGLISH["assistant"]}
        assert one["name"] == "智能助手"


async def test_custom_role_translations_are_set_replaced_and_checked(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    slug = f"bard-{uuid.uuid4().hex[:6]}"
    created = await http.post(
        "/api/roles",
        json={
            "id": slug,
            "name": "诗人",
            "system_prompt": "你是一位诗人。",
            "translations": {"en": {"name": " Poet ", "description": "  "}, "zh": {"description": "写诗"}},
        },
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["role"]["translations"] == {"en": {"name": "Poet"}, "zh": {"description": "写诗"}}
    replaced = await http.patch(
        f"/api/roles/{slug}",
        json={"translations": {"en": {"name": "Bard", "description": "Sings"}}},
        headers=alice.headers,
    )
    assert replaced.json()["role"]["translations"] == {"en": {"name": "Bard", "description": "Sings"}}
    refused = [
        ({"fr": {"name": "Barde"}}, 422, "InvalidLocale", "translations"),
        ({"en": {"name": "x" * 101}}, 422, "TooLong", "translations.en.name"),
        ({"en": {"description": "d" * 2001}}, 422, "TooLong", "translations.en.description"),
        ({"en": {"name": "Bard", "prompt": "sing"}}, 400, "ValidationError", None),
        ({"en": "Bard"}, 400, "ValidationError", None),
    ]
    for texts, status, code, field in refused:
        answer = await http.patch(f"/api/roles/{slug}", json={"translations": texts}, headers=alice.headers)
        assert answer.status_code == status, (texts, answer.text)
        assert error_of(answer)["code"] == code
        if field:
            assert error_of(answer)["field"] == field
    unchanged = (await http.get(f"/api/roles/{slug}", headers=alice.headers)).json()["role"]
    assert unchanged["translations"] == {"en": {"name": "Bard", "description": "Sings"}}
    assert (await http.get(f"/api/roles/{slug}", headers=bob.headers)).status_code == 404
    taken = await http.patch(f"/api/roles/{slug}", json={"translations": {"en": {"name": "Mine"}}}, headers=bob.headers)
    assert taken.status_code == 404
    cleared = await http.patch(f"/api/roles/{slug}", json={"translations": None}, headers=alice.headers)
    assert cleared.json()["role"]["translations"] == {}
    await http.delete(f"/api/roles/{slug}", headers=alice.headers)


async def test_an_admin_edits_a_builtin_roles_english_texts_for_everyone(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser
) -> None:
    admin = await make_admin(stack, http)
    edited = {"en": {"name": "Engineer", "description": "Answers technical questions"}}
    try:
        changed = await http.patch("/api/admin/roles/tech_expert", json={"translations": edited}, headers=admin.headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["item"]["translations"] == edited
        listed = (await http.get("/api/roles", headers=alice.headers)).json()["roles"]
        assert next(r for r in listed if r["id"] == "tech_expert")["translations"] == edited
        admins = (await http.get("/api/admin/roles", headers=admin.headers)).json()["items"]
        assert next(r for r in admins if r["slug"] == "tech_expert")["translations"] == edited
        bad = await http.patch(
            "/api/admin/roles/tech_expert", json={"translations": {"de": {"name": "Ingenieur"}}}, headers=admin.headers
        )
        assert (bad.status_code, error_of(bad)["code"]) == (422, "InvalidLocale")
        mine = await http.patch(
            "/api/roles/tech_expert", json={"translations": {"en": {"name": "Mine"}}}, headers=alice.headers
        )
        assert (mine.status_code, error_of(mine)["code"]) == (403, "RoleNotEditable")
        not_admin = await http.patch(
            "/api/admin/roles/tech_expert", json={"translations": {"en": {"name": "Mine"}}}, headers=alice.headers
        )
        assert (not_admin.status_code, error_of(not_admin)["code"]) == (403, "AdminOnly")
        after = (await http.get("/api/roles/tech_expert", headers=alice.headers)).json()["role"]
        assert after["translations"] == edited
    finally:
        restored = await http.patch(
            "/api/admin/roles/tech_expert",
            json={"translations": {"en": SEED_ENGLISH["tech_expert"]}},
            headers=admin.headers,
        )
        assert restored.status_code == 200, restored.text


async def test_an_admin_cannot_give_a_builtin_role_a_slug_a_custom_role_has(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """A role's slug names one role for each user (the chats' role_id, the worker's prompt): a custom
    role could not take a built-in's slug, but an admin could add a built-in role (REST, as the
    admin) with the slug of a user's custom role, or rename one to it. That user then listed two
    roles of one id, and their chats with their own persona could be answered with the admin's."""
    slug = f"pirate-{uuid.uuid4().hex[:6]}"
    mine = await http.post(
        "/api/roles", json={"id": slug, "name": "Mine", "system_prompt": "mine"}, headers=alice.headers
    )
    assert mine.status_code == 201, mine.text
    admin = await client_for(stack, await make_admin(stack, http))
    spare = f"spare-{uuid.uuid4().hex[:6]}"
    try:
        with pytest.raises(APIError) as taken:
            await (
                admin.from_("ai_roles")
                .insert({"slug": slug, "name": "Admin's", "system_prompt": "admin", "created_by": None})
                .execute()
            )
        assert taken.value.code == "23505"
        await (
            admin.from_("ai_roles")
            .insert({"slug": spare, "name": "Spare", "system_prompt": "spare", "created_by": None})
            .execute()
        )
        with pytest.raises(APIError) as renamed:
            await admin.from_("ai_roles").update({"slug": slug}).eq("slug", spare).is_("created_by", "null").execute()
        assert renamed.value.code == "23505"
        listed = (await http.get("/api/roles", headers=alice.headers)).json()["roles"]
        assert [(r["name"], r["is_custom"]) for r in listed if r["id"] == slug] == [("Mine", True)]
        assert [r["id"] for r in listed if r["name"] == "Spare"] == [spare]
    finally:
        await pg.execute("delete from ai_roles where slug in ($1, $2) and created_by is null", slug, spare)


@pytest.mark.usefixtures("worker")
async def test_a_role_its_owner_switched_off_is_not_found_for_a_chat(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser, pg: asyncpg.Connection
) -> None:
    """A custom role set inactive (REST: ai_roles.is_active, the seed's column) leaves the roles list,
    and the worker answers with active roles only. A chat could still be bound to it and a question
    sent with it: accepted under its name, stored with its id, then answered by the assistant's
    prompt. Now it is RoleNotFound there, as an inactive built-in role is, and nothing is stored;
    a session bound to it before answers nothing until another role is named (until 12-05 the
    assistant answered in its place, while the web app said the persona is switched off)."""
    slug = f"quiet-{uuid.uuid4().hex[:6]}"
    made = await http.post(
        "/api/roles", json={"id": slug, "name": "Quiet", "system_prompt": "q"}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    bound = (await http.post("/api/sessions", json={"role_id": slug}, headers=alice.headers)).json()["session"]
    rest = await client_for(stack, alice)
    switched = await rest.from_("ai_roles").update({"is_active": False}).eq("slug", slug).execute()
    assert rows_of(switched.data)[0]["is_active"] is False
    listed = (await http.get("/api/roles", headers=alice.headers)).json()["roles"]
    assert slug not in {r["id"] for r in listed}
    session = (await http.post("/api/sessions", json={}, headers=alice.headers)).json()["session"]
    for method, path, body in (
        ("POST", "/api/sessions", {"role_id": slug}),
        ("PATCH", f"/api/sessions/{session['id']}", {"role_id": slug}),
        ("POST", "/api/chat/send", {"session_id": session["id"], "message": "hi", "role_id": slug}),
    ):
        refused = await http.request(method, path, json=body, headers=alice.headers)
        assert (refused.status_code, error_of(refused)["code"]) == (404, "RoleNotFound"), (method, path)
    stored = await pg.fetchval("select count(*) from chat_messages where user_id = $1", uuid.UUID(alice.id))
    assert stored == 0
    sessions = await pg.fetchval("select count(*) from chat_sessions where user_id = $1", uuid.UUID(alice.id))
    assert sessions == 2
    still = await http.get(f"/api/roles/{slug}", headers=alice.headers)  # its owner still reads and edits it
    assert still.status_code == 200
    sent = await http.post("/api/chat/send", json={"session_id": bound["id"], "message": "hi"}, headers=alice.headers)
    assert (sent.status_code, error_of(sent)["code"], error_of(sent)["field"]) == (404, "RoleNotFound", "role_id")
    another = {"session_id": bound["id"], "message": "hi", "role_id": "assistant"}
    sent = await http.post("/api/chat/send", json=another, headers=alice.headers)
    assert sent.status_code == 200, sent.text
    asked = await pg.fetchval(
        "select role_id from chat_messages where id = $1", uuid.UUID(sent.json()["user_message_id"])
    )
    assert asked == "assistant"


async def test_a_renamed_roles_questions_still_name_it(
    http: httpx.AsyncClient, alice: ApiUser, worker: Worker, pg: asyncpg.Connection
) -> None:
    """A custom role's slug is its id at the API, and a PATCH may change it: the chats asked with it
    follow (chat_messages.role_id), so the history and the socket still name their persona (the
    socket's role_name was null, its role_id naming no role)."""
    old, new = f"scribe-{uuid.uuid4().hex[:6]}", f"clerk-{uuid.uuid4().hex[:6]}"
    made = await http.post(
        "/api/roles", json={"id": old, "name": "Scribe", "system_prompt": "s"}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    session = (await http.post("/api/sessions", json={}, headers=alice.headers)).json()["session"]
    sent = await http.post(
        "/api/chat/send", json={"session_id": session["id"], "message": "hi", "role_id": old}, headers=alice.headers
    )
    assert sent.status_code == 200, sent.text
    renamed = await http.patch(f"/api/roles/{old}", json={"id": new, "name": "Clerk"}, headers=alice.headers)
    assert renamed.status_code == 200, renamed.text
    history = await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)
    assert sorted((m["message_type"], m["role_id"]) for m in history.json()["messages"]) == [
        ("assistant", new),
        ("user", new),
    ]
    named = await http.get(f"/api/roles/{new}", headers=alice.headers)  # what a client reads the name from
    assert named.json()["role"]["name"] == "Clerk"
    kept = await pg.fetchval("select count(*) from chat_messages where role_id = $1", old)
    assert kept == 0


async def test_a_roles_texts_are_measured_as_they_are_kept_trimmed(http: httpx.AsyncClient, alice: ApiUser) -> None:
    """A name, description, system prompt and their translations are kept trimmed (as the web app
    and REST keep them), so their limits count the trimmed text: a name of 100 characters typed
    after a space fits; one of 101 is TooLong however it is padded; a blank description is none."""
    slug = f"roomy-{uuid.uuid4().hex[:6]}"
    body = {
        "id": slug,
        "name": " " + "n" * 100,
        "description": "\u3000" + "d" * 2000 + "\n",
        "system_prompt": "p" * 8000 + "\n",
        "translations": {"en": {"name": "e" * 100 + " ", "description": " " + "x" * 2000}},
    }
    created = await http.post("/api/roles", json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    role = created.json()["role"]
    assert (role["name"], role["description"], role["system_prompt"]) == ("n" * 100, "d" * 2000, "p" * 8000)
    assert role["translations"] == {"en": {"name": "e" * 100, "description": "x" * 2000}}
    patched = await http.patch(
        f"/api/roles/{slug}",
        json={"name": "  Roomy ", "description": "   ", "system_prompt": "\tp "},
        headers=alice.headers,
    )
    assert patched.status_code == 200, patched.text
    role = patched.json()["role"]
    assert (role["name"], role["description"], role["system_prompt"]) == ("Roomy", None, "p")
    for field, value, code in (
        ("name", " " + "n" * 101, "TooLong"),
        ("name", "\u3000\n", "EmptyValue"),
        ("description", "d" * 2001 + " ", "TooLong"),
        ("system_prompt", " " + "p" * 8001, "TooLong"),
        ("system_prompt", " \n ", "EmptyValue"),
    ):
        refused = await http.patch(f"/api/roles/{slug}", json={field: value}, headers=alice.headers)
        assert (refused.status_code, error_of(refused)["code"], error_of(refused)["field"]) == (422, code, field)


async def test_a_role_id_with_a_nul_is_no_role_at_every_door_that_names_one(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser
) -> None:
    """No role's slug holds a NUL, so naming one is RoleNotFound (404), as a slug too long is, and
    nothing changes: it reached Postgres, which refused the text, and the API answered 400
    ValidationError with Postgres' words ('invalid byte sequence for encoding "UTF8": 0x00')."""
    session = (await http.post("/api/sessions", json={"title": "t"}, headers=alice.headers)).json()["session"]
    answers = [
        await http.get("/api/roles/a%00", headers=alice.headers),
        await http.patch("/api/roles/a%00", json={"name": "x"}, headers=alice.headers),
        await http.delete("/api/roles/a%00", headers=alice.headers),
        await http.post("/api/sessions", json={"role_id": "a\x00"}, headers=alice.headers),
        await http.patch(f"/api/sessions/{session['id']}", json={"role_id": "a\x00"}, headers=alice.headers),
        await http.post(
            "/api/chat/send",
            json={"message": "hi", "session_id": session["id"], "role_id": "a\x00"},
            headers=alice.headers,
        ),
        await http.patch("/api/admin/roles/a%00", json={"name": "x"}, headers=(await make_admin(stack, http)).headers),
    ]
    assert [(a.status_code, error_of(a)["code"]) for a in answers] == [(404, "RoleNotFound")] * len(answers)
    listed = (await http.get("/api/sessions", headers=alice.headers)).json()["sessions"]
    assert [s["id"] for s in listed] == [session["id"]]
    history = (await http.get("/api/chat/history", params={"session_id": session["id"]}, headers=alice.headers)).json()
    assert history["messages"] == []
