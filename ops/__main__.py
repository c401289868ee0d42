"""`python -m ops archive --older-than 90d [--delete-after 30d]`, `python -m ops purge-events
--older-than 365d`, `python -m ops stray-uploads --older-than 1d` and `python -m ops stale-guests
--idle-for 30d`: the data lifecycle, run from cron or by hand.

They talk to Supabase REST with the service-role key (SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY),
so the same command works against the local stack and a hosted project. Each prints one JSON
line saying what it did and exits 0, or 2 for a bad argument, 1 when Supabase refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import httpx
from postgrest import APIError, AsyncPostgrestClient

from core.settings import Settings, get_settings
from ops import lifecycle
from ops.durations import parse_age

STRAY_MIN_AGE_S = 3600  # as sweep_stray_attachments insists
GUEST_MIN_IDLE_S = 86400  # as delete_stale_guests insists


def _age(text: str) -> float:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    archive = commands.add_parser("archive", help="archive sessions idle for longer than an age")
    archive.add_argument("--older-than", required=True, type=_age, help="e.g. 90d (by last message)")
    archive.add_argument("--delete-after", type=_age, help="also delete sessions archived longer ago")
    archive.add_argument("--batch", type=int, default=1000, help="sessions per statement")
    purge = commands.add_parser("purge-events", help="forget security events older than an age")
    purge.add_argument("--older-than", required=True, type=_age, help="e.g. 365d")
    purge.add_argument("--batch", type=int, default=10000, help="events per statement")
    stray = commands.add_parser("stray-uploads", help="delete attachments no message lists, uploaded before an age")
    stray.add_argument("--older-than", required=True, type=_age, help="e.g. 1d (at least 1h)")
    stray.add_argument("--batch", type=int, default=1000, help="objects per statement")
    guests = commands.add_parser("stale-guests", help="delete guests (never signed up) idle for longer than an age")
    guests.add_argument("--idle-for", required=True, type=_age, help="e.g. 30d (at least 1d)")
    guests.add_argument("--batch", type=int, default=500, help="guests per statement")
    return parser


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    supa = settings.supabase
    async with httpx.AsyncClient(timeout=60.0, trust_env=False) as http:
        rest = AsyncPostgrestClient(
            f"{supa.url.rstrip('/')}/rest/v1",
            headers={"apikey": supa.anon_key, "Authorization": f"Bearer {supa.service_role_key}"},
            http_client=http,
        )
        if args.command == "purge-events":
            return {"purged_events": await lifecycle.purge_security_events(rest, args.older_than, args.batch)}
        if args.command == "stray-uploads":
            return {"stray_uploads_deleted": await lifecycle.sweep_stray_uploads(rest, args.older_than, args.batch)}
        if args.command == "stale-guests":
            return {"guests_deleted": await lifecycle.delete_stale_guests(rest, args.idle_for, args.batch)}
        result = {"archived": await lifecycle.archive_sessions(rest, args.older_than, args.batch)}
        if args.delete_after is not None:
            result["deleted"] = await lifecycle.delete_archived_sessions(rest, args.delete_after, args.batch)
        return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.batch < 1:
        print("--batch must be at least 1", file=sys.stderr)
        return 2
    if args.command == "stray-uploads" and args.older_than < STRAY_MIN_AGE_S:
        print(
            "--older-than must be at least 1h: an upload waits in the composer while its question is written",
            file=sys.stderr,
        )
        return 2
    if args.command == "stale-guests" and args.idle_for < GUEST_MIN_IDLE_S:
        print("--idle-for must be at least 1d: a guest may come back tomorrow to their chats", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(run(args, get_settings()))
    except (APIError, httpx.HTTPError) as exc:
        print(json.dumps({"error": type(exc).__name__, "detail": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
