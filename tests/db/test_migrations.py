"""The migration chain: one canonical copy, CLI-compatible names, applied once each."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from localbase.migrate import MIGRATIONS_DIR, apply_migrations, migration_files

ROOT = Path(__file__).resolve().parents[2]


def test_supabase_cli_sees_the_same_migrations() -> None:
    cli_dir = ROOT / "supabase" / "migrations"
    assert cli_dir.resolve() == MIGRATIONS_DIR.resolve()
    assert sorted(p.name for p in cli_dir.glob("*.sql")) == [p.name for p in migration_files()]


def test_migration_names_follow_the_cli_pattern() -> None:
    names = [p.name for p in migration_files()]
    assert names, "no migrations found"
    for name in names:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", name), name
    assert len({n[:14] for n in names}) == len(names), "two migrations share a version"


async def test_each_migration_is_recorded_and_applied_once(db: asyncpg.Connection) -> None:
    recorded = [r["version"] for r in await db.fetch("select version from supabase_migrations.schema_migrations")]
    assert sorted(recorded) == [p.name[:14] for p in migration_files()]
    assert await apply_migrations(db) == []
    assert await db.fetchval("select count(*) from ai_roles where created_by is null") == 4


async def test_seed_roles_are_exactly_the_seeds(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        "select slug, name, description, system_prompt, is_active, sort_order from ai_roles"
        " where created_by is null order by sort_order"
    )
    assert [tuple(r) for r in rows] == [
        (
            "assistant",
            "智能助手",
            "专业的AI助手，可以回答各种问题",
            "你是一个专业、友好的AI助手，请用简洁明了的语言回答用户问题。",
            True,
            1,
        ),
        (
            "creative_writer",
            "创意作家",
            "富有创意的写作助手",
            "你是一个富有创意的作家，擅长创作故事、诗歌和各种文学作品。",
            True,
            2,
        ),
        ("tech_expert", "技术专家", "专业的技术顾问", "你是一个资深的技术专家，精通各种编程语言和技术框架。", True, 3),
        (
            "casual_chat",
            "轻松聊天",
            "轻松愉快的聊天伙伴",
            "你是一个幽默风趣的聊天伙伴，喜欢用轻松的语调与用户交流。",
            True,
            4,
        ),
    ]


async def test_chat_tables_are_published_for_realtime(db: asyncpg.Connection) -> None:
    tables = {
        r["tablename"]
        for r in await db.fetch("select tablename from pg_publication_tables where pubname = 'supabase_realtime'")
    }
    assert {"chat_messages", "chat_sessions"} <= tables
