"""Personas in the reader's language, in Debian's Chromium (web/e2e/role_names.mjs): the built-in
roles' Chinese names in Chinese, their English names (ai_roles.translations) in English in the
picker, the empty chat, an answer's byline, history, the roles page and on a phone, and an admin's
edit of a built-in role's English name seen by a reader. Each test is one step of the journey;
the database is checked for what the page showed. Screenshots: tests/e2e/screenshots/role_names/."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import sign_up
from tests.e2e.conftest import Product, make_admin, no_page_errors, passed, query_now, run_journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def role_names(product: Product, chromium_path: str) -> dict[str, Any]:
    stack = product.stack
    tag = uuid.uuid4().hex[:6]
    users: dict[str, Any] = {"tag": tag}
    for name in ("reader", "admin"):
        made = sign_up(stack, f"{name}_{tag}")
        users[name] = {"id": made.id, "email": made.email, "password": made.password}
    make_admin(stack, users["admin"]["id"])
    result = run_journey(product, chromium_path, "role_names", env={"E2E_USERS": json.dumps(users)})
    result["users"] = users
    return result


def test_chinese_names_in_the_chinese_ui(role_names: dict[str, Any]) -> None:
    assert passed(role_names, "the built-in personas in Chinese")["detail"]["chip"] == "技术专家"


def test_english_names_in_the_picker_and_the_empty_chat(role_names: dict[str, Any]) -> None:
    detail = passed(role_names, "switched to English: the picker and the empty chat name the persona in English")[
        "detail"
    ]
    assert detail == {
        "chip": "Tech Expert",
        "title": "A professional technical adviser",
        "empty": "Tech Expert",
        "casual": "Casual Chat",
    }


def test_english_names_in_the_answer_history_and_roles_page(role_names: dict[str, Any], product: Product) -> None:
    detail = passed(role_names, "an answer's byline, the history list and the roles page in English")["detail"]
    assert detail["byline"] == "Tech Expert"
    assert detail["history"] == "Tech Expert"
    assert {"Tech Expert", "Creative Writer", "Casual Chat"} <= set(detail["cards"])
    [session] = query_now(
        product,
        "select r.slug from chat_sessions s join ai_roles r on r.id = s.role_id where s.id = $1",
        uuid.UUID(role_names["sessionId"]),
    )
    assert session["slug"] == "tech_expert"


def test_english_names_on_a_phone(role_names: dict[str, Any]) -> None:
    detail = passed(role_names, "on a phone in English")["detail"]
    assert (detail["chip"], detail["byline"]) == ("Tech Expert", "Tech Expert")
    assert detail["width"] <= 390


def test_an_admins_english_name_is_what_readers_see(role_names: dict[str, Any], product: Product) -> None:
    detail = passed(role_names, "an admin writes a built-in persona's English name; the reader sees it")["detail"]
    name = role_names["englishName"]
    assert detail == {"before": "Casual Chat", "chip": name, "chinese": "轻松聊天"}
    [role] = query_now(
        product, "select name, translations from ai_roles where slug = 'casual_chat' and created_by is null"
    )
    assert role["name"] == "轻松聊天"
    assert json.loads(role["translations"]) == {
        "en": {"name": name, "description": "A relaxed, cheerful companion to chat with"}
    }


def test_no_page_errors(role_names: dict[str, Any]) -> None:
    no_page_errors(role_names)
