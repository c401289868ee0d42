"""What running as a service costs on the answer path: a throwaway cluster, the gateway, the fake
DashScope, one `python -m worker` and one `python -m api`, each in its own process.

1. Admission + settlement: added latency to the first token (question committed as the user,
   through the same role switch PostgREST does -> first `chunk` at the owner's subscribed client,
   minus the fake's TTFT) at 50 conversations, with the quota triggers on and with them disabled,
   in alternating rounds so both see the same machine (target: the difference <= 1 ms at p50);
   with Postgres's CPU per turn in each round. Latency on a shared machine is noisier than the
   triggers' cost, so their cost is also measured apart, as CPU rather than time: one backend
   runs the turn's own statements (the question inserted as its user, the answer row created
   and made final as the worker does) in batches with the triggers on and off, interleaved, and
   its CPU per turn is read from /proc (`trigger_cpu`).
2. `/v1/chat/completions` streaming against the web app's path, one conversation, alternating:
   request sent -> first content token, for the SPA's way (REST insert, then the chunk on the
   already joined private channel) and for an OpenAI client (POST with an API key, then the first
   content chunk of the SSE stream) (target: the difference <= 2 ms at p50).

Figures are printed and written to bench/out/service.json; `python -m bench.service_bench quota`
(or `triggers`, or `openai`) runs one part and writes nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
import time
from typing import Any

import asyncpg
import httpx
from realtime import BroadcastPayload
from supabase import AsyncClient

from bench.harness import (
    RUNS,
    chat_listener,
    child,
    cpu_seconds,
    free_port,
    postgres_cpu_seconds,
    stack_env,
    summary_ms,
    throwaway_cluster,
    write_report,
)
from bench.worker_stack import TTFT_S, Stack
from core.settings import Settings

CONVERSATIONS = 50
QUOTA_ROUNDS = 4  # alternating off/on runs of the 50 conversations
TURNS_PER_RUN = 6  # per conversation and run; the first is reported apart (cold)
THINK_S = (0.5, 1.5)
OPENAI_PAIRS = 30
QUOTA_TRIGGERS = ("chat_messages_quota_admit", "chat_messages_quota_settle")
CPU_BATCHES = max(6, 2 * RUNS)  # alternating off/on batches of the isolated turn
CPU_TURNS = 400  # turns per batch: CPU is read in clock ticks (10 ms), so a batch needs seconds of work
# One turn's own statements in one backend, in a transaction the caller rolls back: the question
# as its user (admission), the answer row as the worker creates it, then made final (settlement).
_TURNS = """
do $$
declare
  q uuid;
  a uuid;
begin
  for i in 1..{turns} loop
    perform set_config('role', 'authenticated', true);
    insert into public.chat_messages (session_id, content) values ('{session}', 'bench question ' || i)
      returning id into q;
    perform set_config('role', 'service_role', true);
    insert into public.chat_messages (session_id, user_id, message_type, content, status, reply_to, answer_no,
                                      parent_id, attempts)
      values ('{session}', '{user}', 'assistant', '', 'streaming', q, 1, q, 1) returning id into a;
    update public.chat_messages set status = 'completed', content = 'bench answer', input_tokens = 20,
                                    output_tokens = 40, tokens_used = 60
     where id = a;
  end loop;
end $$"""


class ServiceBench(Stack):
    async def _listen(
        self, people: list[tuple[str, str, str]]
    ) -> tuple[list[AsyncClient], dict[str, float], dict[str, asyncio.Event]]:
        """Each person's client joined to their session's private channel; first chunk times and done events."""
        first: dict[str, float] = {}
        done: dict[str, asyncio.Event] = {}

        def on_chunk(message: BroadcastPayload) -> None:
            first.setdefault(message["payload"]["reply_to"], time.perf_counter())

        def on_done(message: BroadcastPayload) -> None:
            done.setdefault(message["payload"]["reply_to"], asyncio.Event()).set()

        clients = []
        handlers = {"chunk": on_chunk, "done": on_done}
        for _, session, token in people:
            anon = self.settings.supabase.anon_key
            clients.append(await chat_listener(self.gateway, anon, token, session, handlers))
        return clients, first, done

    async def quota(self) -> dict[str, Any]:
        """Added TTFT at 50 conversations with the quota triggers off and on, alternating."""
        admin = await asyncpg.connect(self.dsn)
        people = await self.users(admin, CONVERSATIONS)
        clients, first, done = await self._listen(people)
        asking = [await asyncpg.connect(self.dsn) for _ in people]
        claims = {user: json.dumps({"sub": user, "role": "authenticated"}) for user, _, _ in people}
        samples: dict[str, list[float]] = {"off": [], "on": []}
        cold: dict[str, list[float]] = {"off": [], "on": []}
        rng = random.Random(CONVERSATIONS)
        gc.freeze()

        async def converse(user: str, session: str, ask: asyncpg.Connection, mode: str, run: int) -> None:
            await asyncio.sleep(rng.uniform(0, THINK_S[1]))
            for i in range(TURNS_PER_RUN):
                if i:
                    await asyncio.sleep(rng.uniform(*THINK_S))
                async with ask.transaction():
                    await ask.execute(
                        "select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)",
                        claims[user],
                    )
                    qid = str(
                        await ask.fetchval(
                            "insert into chat_messages (session_id, content) values ($1, $2) returning id",
                            session,
                            f"run {run} round {i}: how are you?",
                        )
                    )
                committed = time.perf_counter()
                await asyncio.wait_for(done.setdefault(qid, asyncio.Event()).wait(), 30)
                (samples[mode] if i else cold[mode]).append(first[qid] - committed - TTFT_S)

        cpu: dict[str, list[float]] = {"off": [], "on": []}  # Postgres CPU ms per turn, per round
        for run in range(QUOTA_ROUNDS):
            mode = "on" if run % 2 else "off"
            await self.quota_triggers(admin, on=mode == "on")
            before = postgres_cpu_seconds(self.pgdata) if self.pgdata else 0.0
            await asyncio.gather(
                *(converse(u, s, ask, mode, run) for (u, s, _), ask in zip(people, asking, strict=True))
            )
            used = (postgres_cpu_seconds(self.pgdata) if self.pgdata else 0.0) - before
            cpu[mode].append(round(used * 1000 / (CONVERSATIONS * TURNS_PER_RUN), 3))
        # Admitted questions settled: their ledger rows (titles are charged on rows of their own).
        settled = await admin.fetchval(
            "select count(*) from usage_ledger l join chat_messages q on q.id = l.message_id where l.state = 'settled'"
        )
        for ask in asking:
            await ask.close()
        for client in clients:
            await client.realtime.close()
        await admin.close()
        off, on = summary_ms(samples["off"]), summary_ms(samples["on"])
        return {
            "conversations": CONVERSATIONS,
            "triggers_off": off,
            "triggers_on": on,
            "first_question": {"off": summary_ms(cold["off"]), "on": summary_ms(cold["on"])},
            "added_p50_ms": round(on["p50_ms"] - off["p50_ms"], 3),
            "postgres_cpu_ms_per_turn": {"off": cpu["off"], "on": cpu["on"]},
            "settled_with_triggers_on": settled,
            "admitted_with_triggers_on": len(samples["on"]) + len(cold["on"]),
        }

    async def quota_triggers(self, admin: asyncpg.Connection, *, on: bool) -> None:
        action = "enable" if on else "disable"
        for trigger in QUOTA_TRIGGERS:
            await admin.execute(f"alter table chat_messages {action} trigger {trigger}")

    async def trigger_cpu(self) -> dict[str, Any]:
        """CPU per turn of one backend running a turn's own statements, quota triggers off vs on."""
        admin = await asyncpg.connect(self.dsn)
        [(user, session, _)] = await self.users(admin, 1)
        await admin.execute("update user_plans set plan_id = 'unlimited' where user_id = $1", user)
        turn = await asyncpg.connect(self.dsn)
        backend = await turn.fetchval("select pg_backend_pid()")
        claims = json.dumps({"sub": user, "role": "authenticated"})
        body = _TURNS.format(turns=CPU_TURNS, session=session, user=user)
        per_turn: dict[str, list[float]] = {"off": [], "on": []}
        for batch in range(CPU_BATCHES + 1):  # batch 0 warms the caches and is not counted
            mode = "on" if batch % 2 else "off"
            await self.quota_triggers(admin, on=mode == "on")
            transaction = turn.transaction()
            await transaction.start()
            await turn.execute("select set_config('request.jwt.claims', $1, true)", claims)
            before = cpu_seconds(backend)
            await turn.execute(body)
            used = cpu_seconds(backend) - before
            await transaction.rollback()
            if batch:
                per_turn[mode].append(used * 1000 / CPU_TURNS)
        await self.quota_triggers(admin, on=True)
        await turn.close()
        await admin.close()
        off, on = sorted(per_turn["off"]), sorted(per_turn["on"])
        median_off, median_on = off[len(off) // 2], on[len(on) // 2]
        return {
            "turns_per_batch": CPU_TURNS,
            "cpu_ms_per_turn_off": [round(v, 3) for v in per_turn["off"]],
            "cpu_ms_per_turn_on": [round(v, 3) for v in per_turn["on"]],
            "added_cpu_ms_per_turn_median": round(median_on - median_off, 3),
        }

    async def openai(self, api_url: str) -> dict[str, Any]:
        """Request sent -> first content token: the SPA's REST insert + realtime vs /v1 streaming, both
        as an OpenAI client sends it (a new conversation each time) and continuing a stored chat."""
        admin = await asyncpg.connect(self.dsn)
        [(user, session, token)] = await self.users(admin, 1)
        await admin.execute("update user_plans set plan_id = 'unlimited' where user_id = $1", user)
        clients, first, done = await self._listen([(user, session, token)])
        rest = httpx.AsyncClient(
            base_url=f"{self.gateway}/rest/v1",
            headers={"apikey": self.settings.supabase.anon_key, "Authorization": f"Bearer {token}"},
            trust_env=False,
        )
        made = await rest.post("/rpc/create_api_key", json={"key_name": "bench"})
        made.raise_for_status()
        v1 = httpx.AsyncClient(
            base_url=f"{api_url}/v1",
            headers={"Authorization": f"Bearer {made.json()['key']}"},
            timeout=30,
            trust_env=False,
        )
        named = await rest.post(
            "/chat_sessions", json={"title": "bench /v1"}, headers={"Prefer": "return=representation"}
        )
        named.raise_for_status()
        continued = {"X-ChatGalaxy-Session": named.json()[0]["id"]}
        web: list[float] = []
        compat: list[float] = []
        compat_named: list[float] = []
        stored: dict[str, list[float]] = {"web_app": [], "openai_stream": []}  # sent -> the question committed
        gc.freeze()
        for i in range(OPENAI_PAIRS + 1):
            sent = time.perf_counter()
            inserted = await rest.post(
                "/chat_messages",
                json={"session_id": session, "content": f"web {i}"},
                headers={"Prefer": "return=representation"},
            )
            inserted.raise_for_status()
            if i:
                stored["web_app"].append(time.perf_counter() - sent)
            qid = inserted.json()[0]["id"]
            await asyncio.wait_for(done.setdefault(qid, asyncio.Event()).wait(), 30)
            if i:
                web.append(first[qid] - sent - TTFT_S)

            body = {"model": "qwen-turbo", "stream": True, "messages": [{"role": "user", "content": f"api {i}"}]}
            for headers, series in (({}, compat), (continued, compat_named)):
                sent = time.perf_counter()
                got: float | None = None
                async with v1.stream("POST", "/chat/completions", json=body, headers=headers) as response:
                    response.raise_for_status()
                    if i and series is compat:
                        stored["openai_stream"].append(time.perf_counter() - sent)
                    async for line in response.aiter_lines():
                        if (
                            got is None
                            and line.startswith("data: {")
                            and '"content":"' in line
                            and '"content":""' not in line
                        ):
                            got = time.perf_counter()
                if i and got is not None:
                    series.append(got - sent - TTFT_S)
        await rest.aclose()
        await v1.aclose()
        for client in clients:
            await client.realtime.close()
        await admin.close()
        web_s, compat_s, named_s = summary_ms(web), summary_ms(compat), summary_ms(compat_named)
        return {
            "web_app": web_s,
            # each request answered from its own messages: a new conversation, claimed before the
            # model is called (no early call; the web app's follow-ups have one)
            "openai_stream": compat_s,
            "added_p50_ms": round(compat_s["p50_ms"] - web_s["p50_ms"], 3),
            # requests continuing a stored chat (X-ChatGalaxy-Session), the same turn as the web app's
            "openai_stream_named_session": named_s,
            "added_p50_ms_named_session": round(named_s["p50_ms"] - web_s["p50_ms"], 3),
            "question_stored": {door: summary_ms(times) for door, times in stored.items()},
        }


def main() -> None:
    parts = set(sys.argv[1:]) or {"quota", "triggers", "openai"}
    with throwaway_cluster() as cluster:
        port = free_port()
        gateway = f"http://127.0.0.1:{port}"
        settings = Settings()
        env = stack_env(cluster.url, port, settings.supabase.jwt_secret)
        bench = ServiceBench(cluster.url, gateway, env)
        figures: dict[str, Any] = {"fake_ttft_ms": TTFT_S * 1000, "load_average_at_start": list(os.getloadavg())}
        serve = ["-m", "localbase", "serve", "--port", str(port)]
        fast = ["--ttft", str(TTFT_S), "--tokens-per-s", "0", "--answer-tokens", "20"]
        with child("gateway", serve, env, f"{gateway}/auth/v1/health") as gateway_process:
            bench.pids["gateway"] = gateway_process.pid
            bench.pgdata = cluster.data_dir
            with bench.fake_and_worker(fast):
                if "triggers" in parts:
                    figures["trigger_cpu"] = asyncio.run(bench.trigger_cpu())
                if "quota" in parts:
                    figures["quota"] = asyncio.run(bench.quota())
                if "openai" in parts:
                    api_port = free_port()
                    api_env = {**env, "API_RATE_SEND_PER_USER": "100000", "API_LOG_LEVEL": "WARNING"}
                    api = ["-m", "api", "--port", str(api_port)]
                    with child("api", api, api_env, f"http://127.0.0.1:{api_port}/health"):
                        figures["openai"] = asyncio.run(bench.openai(f"http://127.0.0.1:{api_port}"))
        figures["targets"] = {"quota_added_p50_ms": 1, "openai_added_p50_ms": 2}
        figures["load_average"] = [round(v, 2) for v in os.getloadavg()]
        if len(parts) == 3:
            write_report("service", figures)
        else:
            print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
