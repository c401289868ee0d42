"""ai_roles.translations: the seed's personas in English, and the shape the database keeps
(ai_roles_translations_shape) whoever writes it: only the web app's locales, string texts within
the stored name's and description's limits; and a name and a system prompt without control
characters but line breaks and tabs."""

from __future__ import annotations

import json

import asyncpg
import pytest

SEED_ENGLISH = {
    "assistant": ("Smart Assistant", "A professional AI assistant that can answer all kinds of questions"),
    "creative_writer": ("Creative Writer", "A creative writing assistant"),
    "tech_expert": ("Tech Expert", "A professional technical adviser"),
    "casual_chat": ("Casual Chat", "A relaxed, cheerful companion to chat with"),
}


async def test_the_seed_roles_have_english_names_and_descriptions(module_db: asyncpg.Connection) -> None:
    rows = await module_db.fetch("select slug, translations from ai_roles where created_by is null")
    found = {r["slug"]: json.loads(r["translations"]) for r in rows}
    assert found == {slug: {"en": {"name": n, "description": d}} for slug, (n, d) in SEED_ENGLISH.items()}


async def test_the_seeding_was_not_recorded_as_an_admins_action(module_db: asyncpg.Connection) -> None:
    assert await module_db.fetchval("select count(*) from audit.events where kind = 'admin_action'") == 0


KEPT = [
    {},
    {"en": {"name": "Pirate"}},
    {"en": {"description": "Talks like a pirate"}},
    {"en": {"name": "Pirate", "description": ""}, "zh": {"name": "海盗", "description": "像海盗一样说话"}},
    {"en": {"name": "x" * 100, "description": "d" * 2000}},
]
REFUSED = [
    [],
    "text",
    {"fr": {"name": "Pirate"}},
    {"en-US": {"name": "Pirate"}},
    {"en": "Pirate"},
    {"en": {}},
    {"en": {"name": "Pirate", "prompt": "Arr"}},
    {"en": {"name": ""}},
    {"en": {"name": "   "}},
    {"en": {"name": 7}},
    {"en": {"name": None}},
    {"en": {"description": ["a"]}},
    {"en": {"name": "x" * 101}},
    {"en": {"description": "d" * 2001}},
    {"en": {"name": "ok"}, "zh": {"name": ""}},
]


@pytest.mark.parametrize("texts", KEPT, ids=[json.dumps(t)[:40] for t in KEPT])
async def test_well_shaped_translations_are_kept(module_db: asyncpg.Connection, texts: object) -> None:
    change = module_db.transaction()
    await change.start()
    try:
        await module_db.execute(
            "update ai_roles set translations = $1::jsonb where slug = 'assistant'", json.dumps(texts)
        )
        stored = await module_db.fetchval("select translations from ai_roles where slug = 'assistant'")
        assert json.loads(stored) == texts
    finally:
        await change.rollback()


@pytest.mark.parametrize("texts", REFUSED, ids=[json.dumps(t)[:40] for t in REFUSED])
async def test_badly_shaped_translations_are_refused(module_db: asyncpg.Connection, texts: object) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="ai_roles_translations_shape"):
        await module_db.execute(
            "update ai_roles set translations = $1::jsonb where slug = 'assistant'", json.dumps(texts)
        )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", "bell\x07"),
        ("name", "tab\tnew\nline\rreturn"),
        ("system_prompt", "a\rb"),
        ("system_prompt", "\x1b[31m"),
    ],
)
async def test_a_role_name_or_prompt_with_a_control_character_but_a_line_break_or_a_tab_is_refused(
    module_db: asyncpg.Connection, column: str, value: str
) -> None:
    """ai_roles_name_printable / ai_roles_system_prompt_printable, whoever writes the role
    (migrations/20261205141000_names_and_prompts_without_control_characters.sql)."""
    with pytest.raises(asyncpg.CheckViolationError, match=f"ai_roles_{column}_printable"):
        await module_db.execute(f"update ai_roles set {column} = $1 where slug = 'assistant'", value)


async def test_a_role_prompt_keeps_its_line_breaks_and_tabs(module_db: asyncpg.Connection) -> None:
    change = module_db.transaction()
    await change.start()
    try:
        await module_db.execute(
            "update ai_roles set name = 'A\tB', system_prompt = $1 where slug = 'assistant'", "1\n\t2"
        )
        assert await module_db.fetchval("select system_prompt from ai_roles where slug = 'assistant'") == "1\n\t2"
    finally:
        await change.rollback()


@pytest.mark.parametrize("avatar", ["javascript:alert(1)", "not a url", "//example.com/a.png"])
async def test_a_role_avatar_that_is_no_web_address_is_refused(module_db: asyncpg.Connection, avatar: str) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="ai_roles_avatar_url_web"):
        await module_db.execute("update ai_roles set avatar_url = $1 where slug = 'assistant'", avatar)
