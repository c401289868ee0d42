"""Bursts ten times over the API's rate limits, on the send endpoint (per user) and the auth
endpoints (per address): the excess gets 429 with Retry-After, nothing is stored for it, and the
accepted requests are served in full (questions answered, accounts created, sessions opened)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from drills.load import Ledger, Send, send_api
from drills.rig import Person, Rig

LIMIT = 5
BURST = 10 * LIMIT
# One fixed window holds the whole burst (unless it starts in the last 30 s of one, which the
# drill then waits out): a day, so that wait comes near midnight UTC only, not every hour.
WINDOW = 86_400

LIMITED_API = {
    "API_RATE_SEND_PER_USER": str(LIMIT),
    "API_RATE_SEND_PER_IP": "1000000",
    "API_RATE_AUTH_PER_IP": str(LIMIT),
    "API_RATE_WINDOW": str(WINDOW),
    "API_TRUST_FORWARDED_FOR": "true",  # each auth burst comes from an address of its own
    "API_ANSWER_TIMEOUT": "15",
    "API_ANSWER_POLL_INTERVAL": "0.5",
}


@dataclass
class BurstResult:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check_refusals(self, what: str, responses: list[httpx.Response], accepted: set[int]) -> int:
        """Count statuses; every refusal a 429 with a usable Retry-After; exactly LIMIT accepted."""
        ok = 0
        self.statuses[what] = Counter(r.status_code for r in responses)
        for response in responses:
            if response.status_code in accepted:
                ok += 1
            elif response.status_code == 429:
                retry_after = response.headers.get("retry-after", "")
                code = response.json().get("error", {}).get("code")
                if not retry_after.isdigit() or int(retry_after) < 1 or code != "RateLimited":
                    self.problems.append(f"{what}: 429 without Retry-After/RateLimited ({retry_after!r}, {code!r})")
            else:
                self.problems.append(f"{what}: unexpected {response.status_code} {response.text[:120]}")
        if ok != LIMIT:
            self.problems.append(f"{what}: {ok} of {BURST} accepted, the limit is {LIMIT}")
        return ok


async def away_from_window_edge() -> None:
    remaining = WINDOW - time.time() % WINDOW
    if remaining < 30:
        await asyncio.sleep(remaining + 0.1)  # the counters' next window, so the burst fits in one


def _address(host: int) -> dict[str, str]:
    """A client address of its own for each burst (the drill's cluster is new each run): two bursts
    drawn at random shared one 1 time in 250, and the second then found its limit spent."""
    return {"X-Forwarded-For": f"198.51.100.{host}"}


async def send_burst(rig: Rig, api_url: str, person: Person, ledger: Ledger, result: BurstResult) -> None:
    """BURST questions at once from one user; the audit later checks refused ones were not stored."""
    sends = [Send(uuid.uuid4().hex[:16], "api") for _ in range(BURST)]
    ledger.sends.extend(sends)
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(base_url=api_url, timeout=40, limits=limits, trust_env=False) as http:
        await asyncio.gather(*(send_api(http, rig, person, send, i) for i, send in enumerate(sends)))
    result.statuses["send"] = Counter(s.status or 0 for s in sends)
    accepted = sum(1 for s in sends if s.outcome == "acked")
    refused = [s for s in sends if s.outcome != "acked"]
    if accepted != LIMIT:
        result.problems.append(f"send: {accepted} of {BURST} accepted, the limit is {LIMIT}")
    if any(s.status != 429 for s in refused):
        result.problems.append(f"send: refusals other than 429: {Counter(s.status for s in refused)}")


async def auth_bursts(rig: Rig, api_url: str, result: BurstResult) -> dict[str, Any]:
    """Sign-ups then sign-ins, BURST each from one address: LIMIT pass, and only they leave rows."""
    tag = uuid.uuid4().hex[:8]
    people = [
        {"username": f"burst_{tag}_{i}", "email": f"burst-{tag}-{i}@example.com", "password": "password123"}
        for i in range(BURST)
    ]
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(base_url=api_url, timeout=40, limits=limits, trust_env=False) as http:
        address = _address(1)
        registered = await asyncio.gather(*(http.post("/api/auth/register", json=p, headers=address) for p in people))
        result.check_refusals("register", list(registered), {201})
        accepted = [p["email"] for p, r in zip(people, registered, strict=True) if r.status_code == 201]
        stored = await rig.pool.fetch("select email from auth.users where email like $1", f"burst-{tag}-%")
        if sorted(r["email"] for r in stored) != sorted(accepted):
            result.problems.append(f"register: {len(stored)} accounts stored for {len(accepted)} accepted")

        account = next((p for p, r in zip(people, registered, strict=True) if r.status_code == 201), None)
        if account is None:
            return {"accounts": len(stored)}
        user_id = await rig.pool.fetchval("select id from auth.users where email = $1", account["email"])
        sessions_before = await rig.pool.fetchval("select count(*) from auth.sessions where user_id = $1", user_id)
        address = _address(2)
        credentials = {"email": account["email"], "password": account["password"]}
        logins = await asyncio.gather(
            *(http.post("/api/auth/login", json=credentials, headers=address) for _ in range(BURST))
        )
        signed_in = result.check_refusals("login", list(logins), {200})
        sessions_after = await rig.pool.fetchval("select count(*) from auth.sessions where user_id = $1", user_id)
        if sessions_after - sessions_before != signed_in:
            result.problems.append(f"login: {sessions_after - sessions_before} sessions for {signed_in} sign-ins")
    return {"accounts": len(stored), "sign_ins": signed_in}
