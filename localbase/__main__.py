"""`python -m localbase`: run the local Supabase stack and manage its PostgreSQL.

python -m localbase db start|stop|status|reset|migrate
python -m localbase serve [--host H] [--port P]     (starts Postgres and migrates first)
python -m localbase mail [--host H] [--port P]      (the mailbox on :54324: Mailpit's API and a page)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import asyncpg

from core import logs
from core.jwt import generate_jwk
from core.settings import get_settings
from localbase.migrate import migrate
from localbase.postgres import Cluster, PostgresUnavailable, ensure_local_database, project_cluster


def _cluster() -> Cluster:
    settings = get_settings()
    return project_cluster(settings.database.url, settings.database.data_dir)


async def _reset(dsn: str) -> None:
    """Drop everything the project and the local base created in `postgres`, then migrate."""
    admin = dsn.rsplit("/", 1)[0] + "/template1"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute("drop database if exists postgres with (force)")
        await conn.execute("create database postgres")
    finally:
        await conn.close()
    await migrate(dsn)


def _db(action: str) -> int:
    settings = get_settings()
    cluster = _cluster()
    if action == "start":
        cluster.start()
        applied = asyncio.run(migrate(settings.database.url))
        print(
            f"PostgreSQL ready at {settings.database.url.replace(':postgres@', ':***@')}; "
            f"{len(applied)} migration(s) applied"
        )
    elif action == "stop":
        cluster.stop()
    elif action == "status":
        print("running" if cluster.is_running() else "stopped")
        return 0 if cluster.is_running() else 3
    elif action == "migrate":
        print("\n".join(asyncio.run(migrate(settings.database.url))) or "up to date")
    elif action == "reset":
        cluster.start()
        asyncio.run(_reset(settings.database.url))
        print("database reset; all migrations applied")
    return 0


def _serve(host: str, port: int) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from localbase.app import create_app  # noqa: PLC0415

    settings = get_settings()
    ensure_local_database(settings.database.url, settings.database.data_dir)
    asyncio.run(migrate(settings.database.url))
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_ping_interval=None,
        # As Phoenix (compress: false): a deflate context costs ~34 KB per socket and compresses
        # every fan-out frame once per subscriber; realtime/wire.py shares one framed copy instead.
        ws_per_message_deflate=False,
        lifespan="on",
    )
    return 0


def _mail(host: str, port: int) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from localbase.mail.server import MailboxApp  # noqa: PLC0415

    settings = get_settings()
    uvicorn.run(MailboxApp(settings.localbase.mail_dir), host=host, port=port, log_level="warning", access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="localbase", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="manage the project's PostgreSQL cluster")
    db.add_argument("action", choices=["start", "stop", "status", "reset", "migrate"])
    serve = commands.add_parser("serve", help="run the gateway (auth, rest, realtime)")
    serve.add_argument("--host", default=settings.localbase.host)
    serve.add_argument("--port", type=int, default=settings.localbase.port)
    key = commands.add_parser(
        "signing-key", help="print a new JWT signing key (a JWK array, like `supabase gen signing-key`)"
    )
    key.add_argument("--algorithm", choices=["ES256", "RS256"], default="ES256")
    mail = commands.add_parser("mail", help="run the mailbox (Mailpit's API and a page listing the mails)")
    mail.add_argument("--host", default=settings.localbase.mail_host)
    mail.add_argument("--port", type=int, default=settings.localbase.mail_port)
    args = parser.parse_args(argv)
    if args.command == "signing-key":
        print(json.dumps([generate_jwk(args.algorithm)], indent=2))
        return 0
    logs.configure("localbase")
    try:
        if args.command == "db":
            return _db(args.action)
        if args.command == "mail":
            return _mail(args.host, args.port)
        return _serve(args.host, args.port)
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
