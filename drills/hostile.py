"""Malformed, oversized and hostile requests at every API endpoint and at the local stack's REST
and Auth: each must get a clear 4xx (a JSON error with a code), never a 5xx, and the database must
be exactly as it was (a fingerprint of the product and auth tables before and after)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from drills.audit import drain
from drills.probes import JUNK_TOKEN, Probe, api_probes, bad_tokens, stack_probes, token_probes
from drills.rig import Person, Rig

# The tables a request could change. Rate-limit counters and the security audit log are meant to.
FINGERPRINTED = (
    "public.chat_messages",
    "public.chat_sessions",
    "public.ai_roles",
    "public.profiles",
    "auth.users",
    "auth.sessions",
    "auth.refresh_tokens",
)


@dataclass
class Finding:
    probe: str
    status: int
    code: str | None


async def fingerprint(rig: Rig) -> dict[str, str]:
    out = {}
    for table in FINGERPRINTED:
        out[table] = await rig.pool.fetchval(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t"
        )
    return out


def _code(body: Any) -> str | None:
    """The stable error code in an API envelope, a PostgREST error or a GoTrue error."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("code"):
        return str(error["code"])
    for key in ("code", "error_code", "error"):
        if body.get(key):
            return str(body[key])
    return None


async def _fire(http: httpx.AsyncClient, probe: Probe) -> Finding:
    headers = dict(probe.headers)
    if probe.token:
        headers["Authorization"] = f"Bearer {probe.token}"
    response = await http.request(probe.method, probe.url, json=probe.json, content=probe.content, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Finding(probe.name, response.status_code, _code(body))


async def websocket_probe(api: str, session_id: str) -> Finding:
    """A WebSocket join with a junk token: refused by an HTTP 4xx or a 44xx close, never a crash."""
    url = api.replace("http://", "ws://") + f"/ws/chat/{session_id}?token={JUNK_TOKEN}"
    try:
        async with websockets.connect(url, open_timeout=10, close_timeout=5) as socket:
            try:
                await socket.recv()
                await socket.recv()
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                return Finding("ws: junk token", code, str(code))
    except websockets.InvalidStatus as refused:
        return Finding("ws: junk token", refused.response.status_code, None)
    return Finding("ws: junk token", 200, "not closed")


def judge(finding: Finding) -> str | None:
    """What is wrong with this answer, if anything."""
    if finding.probe == "ws: junk token":
        ok = 4400 <= finding.status < 4500 or 400 <= finding.status < 500
        return None if ok else f"{finding.probe}: {finding.status}"
    if finding.probe == "rest: answer another's question" and finding.status < 300:
        return None  # RLS hides the row: an update of nothing (the fingerprint proves it)
    if not 400 <= finding.status < 500:
        return f"{finding.probe}: {finding.status}"
    if finding.code is None:
        return f"{finding.probe}: {finding.status} without an error code"
    return None


async def run_probes(rig: Rig, api: str, me: Person, other: Person) -> tuple[list[Finding], list[str]]:
    """Fire every probe; the findings and what is wrong (bad statuses, a changed database)."""
    other_question = str(
        await rig.pool.fetchval(
            "insert into chat_messages (session_id, user_id, content) values ($1, $2, 'mine') returning id",
            other.session_id,
            other.user_id,
        )
    )
    probes = [
        *api_probes(api, me, other, other_question),
        *token_probes(api, bad_tokens(rig, me)),
        *stack_probes(rig.gateway_url, rig.settings.supabase.anon_key, me, other, other_question),
    ]
    await drain(rig.pool, 30)  # no worker may be writing while the fingerprints are taken
    before = await fingerprint(rig)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        findings = [await _fire(http, probe) for probe in probes]
    findings.append(await websocket_probe(api, other.session_id))
    after = await fingerprint(rig)
    problems = [p for p in (judge(f) for f in findings) if p]
    problems += [f"{table} changed" for table in FINGERPRINTED if before[table] != after[table]]
    return findings, problems
