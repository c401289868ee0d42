"""The worker under load, end to end: a throwaway cluster, the gateway, the fake DashScope and one
`python -m worker`, each in its own process (bench/worker_stack.py starts them and reads what they report).

1. Added latency to first token: user row committed -> first `chunk` (or, on a thinking model with
   thinking on, first `reasoning`: `added_first_reasoning_50`) at a subscribed client (the
   owner, on the private channel), minus the fake's configured time to first token; p50/p99 with
   1 and 50 conversations in parallel (targets at 50: p50 <= 5 ms, p99 <= 25 ms). A conversation
   is a person: it asks its next question only after the previous answer is done, after a random
   think time (THINK_S), and the conversations start at random offsets, so 50 of them offer a
   realistic ~40 turns/s instead of saturating the machine (that would measure queueing, which
   part 2 measures on purpose). The offered rate is reported with the figures. Each
   conversation's first question is reported apart (`first_question`): it meets a cold system
   (new database backends behind the REST pool, plans of the claim function not yet cached, new
   connections to the model), which is start-up cost, not the steady state the targets are about.
   Latency and throughput repeat BENCH_RUNS times (default 5): each figure comes with its median
   and range over the runs, and CPU per turn of every process (process CPU counters) per run,
   and the mean of each hop the worker times (`hops_mean_ms`: insert -> its event at the worker,
   claim, claim -> first model token minus the fake's TTFT, one broadcast POST; see _hop_budget),
   with `fake_ttft_lateness`: how much later than configured the fake served its first events on
   average (its timer fires up to ~1 ms late); that lateness is inside the added latency.
   Postgres's part of the CPU is split by function (`postgres_functions_ms_per_turn`: the self
   time per turn of its busiest PL/pgSQL functions and trigger functions, all runs pooled; that
   time is wall clock, as track_functions measures it, so on a busy machine it runs above the
   CPU the functions spend: read it as shares, not as CPU).
2. Throughput: completed turns per second one worker (then two) sustains on a burst of questions,
   the fake answering at once (target >= 600/s for one worker). Each run tags its own questions
   and counts only their completed answers.
3. Concurrent streams: slow answers held open together, the worker's RSS per stream (targets
   >= 1,000 streams, <= 100 KB each).

Figures are printed and written to bench/out/worker.json. `python -m bench.worker_bench latency`
(or `throughput`, `streams`, several allowed) runs only those parts and writes nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import random
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx
from realtime import BroadcastPayload

from bench.harness import (
    RUNS,
    chat_listener,
    child,
    free_port,
    rss_kb,
    spread,
    stack_env,
    summary_ms,
    throwaway_cluster,
    write_report,
)
from bench.worker_stack import TTFT_S, Stack
from core.settings import Settings

# The worker's histograms of a first token's hops (worker/metrics.py), by the name reported.
HOPS = {
    "insert_to_worker_event": "worker_notify_delay_seconds",
    "claim": "worker_claim_seconds",
    "claim_to_first_model_token": "worker_time_to_first_token_seconds",
    "broadcast_post": "worker_broadcast_seconds",
}
LATENCY_ROUNDS = {1: 10, 50: 4, 200: 3}  # per run; the very first question of each conversation is reported apart
ASK_POOL = 10  # connections the questions are inserted on (PostgREST's default pool is 10)
THINK_S = (0.5, 1.5)  # a conversation's pause between an answer and its next question
BURST = 3000
STREAMS = 1000  # held open at once: within the stack's WORKER_CONCURRENCY
POSTGRES_FUNCTIONS = 12  # the functions named in each latency figure's Postgres budget


def _hop_budget(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Mean milliseconds per hop over one run, from the worker's histograms: the question's insert
    to its event at the worker (from its created_at, so the insert's own execution, which lies
    before the bench's commit stamp, is in it); one claim call; claim to the model's first token
    minus the fake's TTFT (prompt, SDK, HTTP and the fake's own work; negative by about the claim's
    time when the call was made early, alongside the claim: worker/early.py); their sum
    (`event_to_first_model_token`: the claim starts when the event is heard, and so does an early
    call); one broadcast POST (worker to gateway, chunks and `done` alike; the gateway's fan-out to
    the client is not in it). They are means of each hop, not a partition of the added latency:
    what they leave out is the dispatching and the gateway's fan-out to the subscribed client."""
    budget: dict[str, float] = {}
    for hop, name in HOPS.items():
        total, count = (a - b for a, b in zip(after.get(name, (0.0, 0.0)), before.get(name, (0.0, 0.0)), strict=True))
        mean_ms = total / count * 1000 if count else math.nan
        budget[hop] = round(mean_ms - (TTFT_S * 1000 if hop == "claim_to_first_model_token" else 0.0), 2)
    budget["event_to_first_model_token"] = round(budget["claim"] + budget["claim_to_first_model_token"], 2)
    return budget


def _postgres_budget(
    before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]], turns: int
) -> dict[str, Any]:
    """Postgres's share of the budget, all runs pooled: the self time (wall clock) per turn of the PL/pgSQL
    functions that took the most (the worker's claim and flush, the triggers of a turn's writes),
    with their calls per turn, and what all of them took together; the rest of Postgres's CPU per
    turn is statements sent as they are (a question's insert), the executor's own work under these
    functions (index and heap writes) and background processes."""
    spent = {
        name: (ms - before.get(name, (0.0, 0))[0], calls - before.get(name, (0.0, 0))[1])
        for name, (ms, calls) in after.items()
    }
    top = sorted(spent.items(), key=lambda item: item[1][0], reverse=True)[:POSTGRES_FUNCTIONS]
    return {
        "all_functions_ms": round(sum(ms for ms, _ in spent.values()) / turns, 3),
        "top": {name: {"ms": round(ms / turns, 3), "calls": round(calls / turns, 2)} for name, (ms, calls) in top},
    }


class WorkerBench(Stack):
    """The three measurements on a running stack (bench/worker_stack.py)."""

    # --- 1. added latency to first token ---------------------------------------------------

    async def latency(self, conversations: int, thinking: bool = False) -> dict[str, Any]:
        """RUNS runs of LATENCY_ROUNDS rounds each on the same subscribed clients; each run's p50,
        p99 and CPU per turn, their median and range, and all runs' samples pooled. With `thinking`,
        sessions are on a thinking model with thinking on, and the first `reasoning` event is timed."""
        conn = await asyncpg.connect(self.dsn)
        people = await self.users(conn, conversations, thinking)
        cold: list[float] = []
        clients = []
        first: dict[str, float] = {}
        done: dict[str, asyncio.Event] = {}

        def on_chunk(message: BroadcastPayload) -> None:
            reply_to = message["payload"]["reply_to"]
            first.setdefault(reply_to, time.perf_counter())

        def on_done(message: BroadcastPayload) -> None:
            done.setdefault(message["payload"]["reply_to"], asyncio.Event()).set()

        handlers = {"chunk": on_chunk, "reasoning": on_chunk, "done": on_done}
        for _, session, token in people:
            anon = self.settings.supabase.anon_key
            clients.append(await chat_listener(self.gateway, anon, token, session, handlers))

        rng = random.Random(conversations)
        gc.freeze()  # the measuring client's own collector pauses (~25 ms full) are not the platform's

        # People's questions reach Postgres through a pool, as they do through the REST layer's: a
        # backend per conversation would make every conversation pay Postgres's per-connection warm-up
        # (catalog caches, each trigger function compiled) that a pooled door pays once.
        ask = await asyncpg.create_pool(self.dsn, min_size=ASK_POOL, max_size=ASK_POOL)

        async def converse(user: str, session: str, run: int, into: list[float]) -> None:
            await asyncio.sleep(rng.uniform(0, THINK_S[1]))
            for i in range(LATENCY_ROUNDS[conversations] + (1 if run == 0 else 0)):
                if i:
                    await asyncio.sleep(rng.uniform(*THINK_S))
                qid = str(
                    await ask.fetchval(
                        "insert into chat_messages (session_id, user_id, content) values ($1, $2, $3) returning id",
                        session,
                        user,
                        f"run {run} round {i}: how are you?",
                    )
                )
                committed = time.perf_counter()
                event = done.setdefault(qid, asyncio.Event())
                await asyncio.wait_for(event.wait(), 30)
                (cold if run == 0 and i == 0 else into).append(first[qid] - committed - TTFT_S)

        runs: list[dict[str, Any]] = []
        pooled: list[float] = []
        functions_before = await self.postgres_functions()
        for run in range(RUNS):
            samples: list[float] = []
            cpu = self.cpu()
            hops_before = await self.hop_totals()
            resumed_before = await self.resumed_claims()
            early_before = await self.counter("worker_early_calls", outcome="taken")
            fake_before = await self.fake_first_events()
            started = time.perf_counter()
            await asyncio.gather(*(converse(user, session, run, samples) for user, session, _ in people))
            elapsed = time.perf_counter() - started
            turns = len(samples) + (len(people) if run == 0 else 0)
            cpu_ms = {name: round((used - cpu.get(name, 0.0)) * 1000 / turns, 2) for name, used in self.cpu().items()}
            hops = _hop_budget(hops_before, await self.hop_totals())
            fake_after = await self.fake_first_events()
            served = fake_after[1] - fake_before[1]
            hops["fake_ttft_lateness"] = (
                round((fake_after[0] - fake_before[0]) / served * 1000 - TTFT_S * 1000, 2) if served else math.nan
            )
            runs.append(
                {
                    **summary_ms(samples),
                    "offered_turns_per_s": round(turns / elapsed, 1),
                    "cpu_ms_per_turn": cpu_ms,
                    "hops_mean_ms": hops,
                    # the share of claims that walked only the new part of the path
                    "claims_resumed": round((await self.resumed_claims() - resumed_before) / turns, 3),
                    # the share of turns answered from a model call made while claiming (worker/early.py)
                    "early_calls_taken": round(
                        (await self.counter("worker_early_calls", outcome="taken") - early_before) / turns, 3
                    ),
                }
            )
            pooled += samples
        await ask.close()
        functions = _postgres_budget(functions_before, await self.postgres_functions(), len(pooled) + len(cold))
        for client in clients:
            await client.realtime.close()
        await conn.close()
        system = [sum(v for k, v in r["cpu_ms_per_turn"].items() if k != "bench_client") for r in runs]
        return {
            **summary_ms(pooled),
            "runs": len(runs),
            "p50_ms_over_runs": spread([r["p50_ms"] for r in runs], 2),
            "p99_ms_over_runs": spread([r["p99_ms"] for r in runs], 2),
            "system_cpu_ms_per_turn_over_runs": spread(system, 2),
            "first_question": summary_ms(cold),
            "hops_mean_ms_over_runs": {
                hop: spread([r["hops_mean_ms"][hop] for r in runs], 2) for hop in runs[0]["hops_mean_ms"]
            },
            "postgres_functions_ms_per_turn": functions,
            "per_run": runs,
        }

    async def resumed_claims(self) -> float:
        """Claims so far whose history resumed the one the worker kept (worker/histories.py)."""
        return await self.counter("worker_histories_resumed")

    async def hop_totals(self) -> dict[str, tuple[float, float]]:
        """(sum, count) of each of the worker's hop histograms so far."""
        return {name: totals for (name, _), totals in (await self.histogram_totals()).items() if name in HOPS.values()}

    async def gc_pauses(self) -> dict[str, tuple[float, float]]:
        """(seconds, collections) of the worker's garbage collections so far, by generation."""
        totals = await self.histogram_totals()
        return {generation: sums for (name, generation), sums in totals.items() if name == "worker_gc_pause_seconds"}

    # --- 2. throughput ---------------------------------------------------------------------

    async def throughput(self) -> dict[str, Any]:
        """RUNS bursts of BURST questions; each run counts only its own questions' answers (a tag
        per run in the question text), and a run whose answers are not all completed is said so.
        `turns_per_s` counts from the start of the burst's insert, which is the figure of record;
        `turns_per_s_from_commit` from its commit, when the worker can first hear a question (the
        one statement that inserts all BURST questions, through their triggers, takes ~0.4 s of a
        ~6 s run before that). Both end when the poll of `wait_idle` sees the last answer."""
        conn = await asyncpg.connect(self.dsn)
        people = await self.users(conn, 100)
        runs: list[dict[str, Any]] = []
        for _ in range(RUNS):
            tag = uuid.uuid4().hex[:8]
            cpu = self.cpu()
            pauses = await self.gc_pauses()
            since = await conn.fetchval("select now()")
            started = time.perf_counter()
            await conn.execute(
                """insert into chat_messages (session_id, user_id, content)
                   select s.id, s.user_id, 'burst ' || $4 || ' question ' || g
                     from generate_series(1, $1) g
                     join chat_sessions s on s.id = ($2::uuid[])[1 + g % $3]""",
                BURST,
                [session for _, session, _ in people],
                len(people),
                tag,
            )
            committed = time.perf_counter()
            await self.wait_idle(conn, since, within=240)
            ended = time.perf_counter()
            elapsed = ended - started
            completed = await conn.fetchval(
                "select count(*) from chat_messages a join chat_messages q on q.id = a.reply_to"
                " where a.status = 'completed' and q.content like $1",
                f"burst {tag} question %",
            )
            cpu_ms = {name: round((used - cpu.get(name, 0.0)) * 1000 / BURST, 3) for name, used in self.cpu().items()}
            gc_now = await self.gc_pauses()
            runs.append(
                {
                    "seconds": round(elapsed, 2),
                    "turns_per_s": round(completed / elapsed, 1),
                    "insert_seconds": round(committed - started, 2),
                    "turns_per_s_from_commit": round(completed / (ended - committed), 1),
                    "completed": completed,
                    "cpu_ms_per_turn": cpu_ms,
                    # the worker's garbage collections in this run, by generation: how many, their total stall
                    "worker_gc": {
                        generation: {
                            "collections": int(count - pauses.get(generation, (0.0, 0.0))[1]),
                            "ms": round((seconds - pauses.get(generation, (0.0, 0.0))[0]) * 1000, 1),
                        }
                        for generation, (seconds, count) in sorted(gc_now.items())
                    },
                }
            )
        await conn.close()
        return {
            "questions_per_run": BURST,
            "runs": len(runs),
            "turns_per_s": spread([r["turns_per_s"] for r in runs]),
            "turns_per_s_from_commit": spread([r["turns_per_s_from_commit"] for r in runs]),
            "all_completed": all(r["completed"] == BURST for r in runs),
            "per_run": runs,
        }

    # --- 3. concurrent streams -------------------------------------------------------------

    async def streams(self, fake_url: str, worker_pid: int) -> dict[str, Any]:
        conn = await asyncpg.connect(self.dsn)
        people = await self.users(conn, 100)
        await asyncio.sleep(1.0)  # let the idle worker settle before the baseline
        baseline = rss_kb(worker_pid)
        since = await conn.fetchval("select now()")
        await conn.execute(
            """insert into chat_messages (session_id, user_id, content)
               select s.id, s.user_id, 'slow question ' || g
                 from generate_series(1, $1) g
                 join chat_sessions s on s.id = ($2::uuid[])[1 + g % $3]""",
            STREAMS,
            [session for _, session, _ in people],
            len(people),
        )
        peak_streams, peak_rss = 0, baseline
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                stats = (await http.get(f"{fake_url}/_fake/stats")).json()
                peak_streams = max(peak_streams, stats["streams_active"])
                peak_rss = max(peak_rss, rss_kb(worker_pid))
                if stats["streams_active"] >= STREAMS:
                    await asyncio.sleep(1.0)
                    peak_rss = max(peak_rss, rss_kb(worker_pid))
                    break
                await asyncio.sleep(0.2)
        await self.wait_idle(conn, since, within=120)
        await conn.close()
        return {
            "streams": peak_streams,
            "rss_baseline_mb": round(baseline / 1024, 1),
            "rss_peak_mb": round(peak_rss / 1024, 1),
            "kb_per_stream": round((peak_rss - baseline) / max(peak_streams, 1), 1),
        }


def main() -> None:
    parts = set(sys.argv[1:]) or {"latency", "throughput", "streams"}
    with throwaway_cluster() as cluster:
        port = free_port()
        gateway = f"http://127.0.0.1:{port}"
        settings = Settings()
        env = stack_env(cluster.url, port, settings.supabase.jwt_secret)
        bench = WorkerBench(cluster.url, gateway, env)
        asyncio.run(bench.track_postgres_functions())
        figures: dict[str, Any] = {"fake_ttft_ms": TTFT_S * 1000}
        serve = ["-m", "localbase", "serve", "--port", str(port)]
        with child("gateway", serve, env, f"{gateway}/auth/v1/health") as gateway_process:
            bench.pids["gateway"] = gateway_process.pid
            bench.pgdata = cluster.data_dir
            fast = ["--ttft", str(TTFT_S), "--tokens-per-s", "0", "--answer-tokens", "20"]
            if "latency" in parts:
                with bench.fake_and_worker(fast):
                    figures["added_ttft_1"] = asyncio.run(bench.latency(1))
                    figures["added_ttft_50"] = asyncio.run(bench.latency(50))
                    figures["added_ttft_200"] = asyncio.run(bench.latency(200))
                    # The first reasoning chunk of a thinking answer takes the same path as a first token.
                    figures["added_first_reasoning_50"] = asyncio.run(bench.latency(50, thinking=True))
                    figures["reasoning_minus_text_p50_ms"] = round(
                        figures["added_first_reasoning_50"]["p50_ms"] - figures["added_ttft_50"]["p50_ms"], 2
                    )
            if "throughput" in parts:
                with bench.fake_and_worker(["--ttft", "0", "--tokens-per-s", "0", "--answer-tokens", "20"]):
                    figures["throughput"] = asyncio.run(bench.throughput())
                with bench.fake_and_worker(["--ttft", "0", "--tokens-per-s", "0", "--answer-tokens", "20"], workers=2):
                    figures["throughput_two_workers"] = asyncio.run(bench.throughput())
            slow = ["--ttft", "0", "--tokens-per-s", "2", "--tokens-per-event", "1", "--answer-tokens", "30"]
            if "streams" in parts:
                with bench.fake_and_worker(slow) as (fake_url, pid):
                    figures["streams"] = asyncio.run(bench.streams(fake_url, pid))
        figures["targets"] = {
            "added_ttft_50_p50_ms": 5,
            "added_ttft_50_p99_ms": 25,
            "reasoning_minus_text_p50_ms": 1,
            "turns_per_s": 600,
            "streams": 1000,
            "kb_per_stream": 100,
        }
        if len(parts) == 3:
            write_report("worker", figures)
        else:
            print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
