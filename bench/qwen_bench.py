"""Images in questions (issue 13): the image path adds no more to the first token than the upload's
own read.

A throwaway cluster, the gateway (with Storage), the fake DashScope and one `python -m worker`,
as in bench/worker_bench.py. Each conversation is a person who asks ROUNDS questions in turn
after a text question that warms their new session, every other one with a photo they just
uploaded (a 1280x960 JPEG of about 0.83 MB, through the Storage API as that person; a new object
each time, as a new photo would be, so the worker has never read it), pausing THINK_S before each
question. 1 or 50 conversations go on at once, each of them SERIES conversations one after another
(three at 1, for more samples). So image and text questions meet the same machine state at the same concurrency, in the
same run. Every run starts fresh conversations, so runs repeat the same experiment: a session's
earlier images come back on every later image question (the vision model sees them again), and
with one session across runs their number grew run after run.

Per question: added latency to the first token = user row committed -> first `chunk` at the owner's
subscribed client, minus the fake's time to first token (the fake reads the image inside that time).
Per image question, in the pause after its answer, the conversation also times the read the worker
does for it, with the worker's own Storage client (worker/supabase_http.py, as service_role): the
object's download for LLM_IMAGE_TRANSPORT=inline, the signed URL creation for `signed_url` (the fake
then downloads the URL within its time to first token, as DashScope would). The default, `auto`, is
one of the two by where Storage and the model are (worker/images.py): here both are on this machine,
so `signed_url` (`default_transport` in the report); inline is what a deployment whose Storage the
model cannot reach gets. The figure of record per run: p50(image added) - p50(text added) against
p50(upload read), for 1 and 50 conversations and both transports, with the median and range over
BENCH_RUNS runs. `extra_over_read_ms` is that difference minus the read: at or below zero, the image
path adds nothing beyond the read. It is given for all image questions, for those carrying only
their own image (`own_image_only`: a conversation's first), and by how many earlier images the
question's prompt carries again (`extra_over_read_ms_by_earlier_images`).

    BENCH_RUNS=1 .venv/bin/python -m bench qwen   (writes bench/out/qwen.json, merged into bench/report.json)
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import random
import shutil
import tempfile
import time
from typing import Any

import asyncpg
import httpx
from PIL import Image
from realtime import BroadcastPayload

from bench.harness import (
    RUNS,
    chat_listener,
    child,
    free_port,
    percentile,
    spread,
    stack_env,
    summary_ms,
    throwaway_cluster,
    write_report,
)
from bench.worker_stack import TTFT_S, Stack
from core.settings import Settings
from worker.images import transport_for
from worker.supabase_http import SupabaseHttp

ROUNDS = {1: 6, 50: 4}  # questions per conversation, half of them with a photo
SERIES = {1: 3, 50: 1}  # conversations each of the concurrent ones is, one after another, per run
THINK_S = (0.5, 1.5)
WIDTH, HEIGHT = 1280, 960
TRANSPORTS = ("inline", "signed_url")


def photo() -> bytes:
    """A deterministic 1280x960 JPEG that compresses like a photo (~1 MB): smooth gradients plus noise."""
    rng = random.Random(13)
    noise = rng.randbytes(WIDTH * HEIGHT)
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((WIDTH, HEIGHT)),
            Image.frombytes("L", (WIDTH, HEIGHT), noise),
            Image.radial_gradient("L").resize((WIDTH, HEIGHT)),
        ),
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Conversations:
    def __init__(self, bench: Stack, gateway: str, blob: bytes) -> None:
        self.bench = bench
        self.gateway = gateway
        self.blob = blob
        self.settings = Settings()

    async def upload(self, http: httpx.AsyncClient, user: str, token: str, name: str) -> dict[str, Any]:
        """The photo in the user's folder, as storage-js uploads it; its `attachments` entry."""
        path = f"{user}/{name}"
        response = await http.post(
            f"{self.gateway}/storage/v1/object/attachments/{path}",
            content=self.blob,
            headers={
                "apikey": self.settings.supabase.anon_key,
                "Authorization": f"Bearer {token}",
                "Content-Type": "image/jpeg",
            },
        )
        response.raise_for_status()
        return {
            "bucket": "attachments",
            "path": path,
            "name": name,
            "mime_type": "image/jpeg",
            "size": len(self.blob),
            "width": WIDTH,
            "height": HEIGHT,
        }

    async def measure(self, conversations: int, transport: str) -> dict[str, Any]:
        storage = SupabaseHttp(self.gateway, self.settings.supabase.service_role_key, max_connections=100, timeout=30)
        errors: list[str] = []
        runs = [await self.run_once(conversations, transport, run, storage, errors) for run in range(RUNS)]
        await storage.aclose()
        return {
            "conversations": conversations,
            "transport": transport,
            "image_bytes": len(self.blob),
            "failed_turns": errors,
            "image_minus_text_p50_ms_over_runs": spread([r["image_minus_text_p50_ms"] for r in runs], 2),
            "upload_read_p50_ms_over_runs": spread([r["upload_read"]["p50_ms"] for r in runs], 2),
            "extra_over_read_ms_over_runs": spread([r["extra_over_read_ms"] for r in runs], 2),
            "own_image_only_extra_over_read_ms_over_runs": spread(
                [r["own_image_only"]["extra_over_read_ms"] for r in runs], 2
            ),
            "extra_over_read_ms_by_earlier_images_over_runs": {
                k: spread(
                    [
                        r["extra_over_read_ms_by_earlier_images"][k]
                        for r in runs
                        if k in r["extra_over_read_ms_by_earlier_images"]
                    ],
                    2,
                )
                for k in sorted({k for r in runs for k in r["extra_over_read_ms_by_earlier_images"]})
            },
            "per_run": runs,
        }

    async def run_once(
        self, conversations: int, transport: str, run: int, storage: SupabaseHttp, errors: list[str]
    ) -> dict[str, Any]:
        """One run: `conversations` at once, each SERIES[conversations] fresh people and sessions one
        after another, each asking ROUNDS[conversations] questions after a text question that warms
        their session."""
        conn = await asyncpg.connect(self.bench.dsn)
        series = SERIES[conversations]
        people = await self.bench.users(conn, conversations * series)
        rounds = ROUNDS[conversations]

        def with_image(index: int, i: int) -> bool:
            return i > 0 and (i - 1 + index) % 2 == 0

        photos: dict[tuple[int, int], dict[str, Any]] = {}
        async with httpx.AsyncClient(timeout=30) as http:
            for index, (user, _, token) in enumerate(people):
                for i in range(rounds + 1):
                    if with_image(index, i):
                        photos[index, i] = await self.upload(http, user, token, f"photo-{i}.jpg")
        first: dict[str, float] = {}
        done: dict[str, asyncio.Event] = {}

        def on_chunk(message: BroadcastPayload) -> None:
            first.setdefault(message["payload"]["reply_to"], time.perf_counter())

        def on_done(message: BroadcastPayload) -> None:
            payload = message["payload"]
            if payload.get("status") != "completed":
                errors.append(f"{payload.get('status')}: {payload.get('error_code')}")
            done.setdefault(payload["reply_to"], asyncio.Event()).set()

        clients = []
        handlers = {"chunk": on_chunk, "done": on_done}
        for _, session, token in people:
            anon = self.settings.supabase.anon_key
            clients.append(await chat_listener(self.gateway, anon, token, session, handlers))
        asking = [await asyncpg.connect(self.bench.dsn) for _ in people]
        rng = random.Random(conversations * 100 + run)
        gc.freeze()

        async def read(attachment: dict[str, Any]) -> float:
            started = time.perf_counter()
            if transport == "signed_url":
                await storage.sign("attachments", attachment["path"], 600)
            else:
                await storage.download("attachments", attachment["path"])
            return time.perf_counter() - started

        samples: dict[str, list[float]] = {"image": [], "text": [], "read": []}
        by_earlier: dict[int, list[float]] = {}

        async def converse(index: int) -> None:
            user, session, _ = people[index]
            ask = asking[index]
            earlier = 0  # image questions this conversation asked before: their images come back
            for i in range(rounds + 1):
                photo_ = photos.get((index, i))
                await asyncio.sleep(rng.uniform(*THINK_S))
                qid = str(
                    await ask.fetchval(
                        "insert into chat_messages (session_id, user_id, content, attachments)"
                        " values ($1, $2, $3, $4::jsonb) returning id",
                        session,
                        user,
                        f"run {run} round {i}: " + ("what is in this photo?" if photo_ else "how are you?"),
                        json.dumps([photo_] if photo_ else []),
                    )
                )
                committed = time.perf_counter()
                event = done.setdefault(qid, asyncio.Event())
                await asyncio.wait_for(event.wait(), 30)
                if i == 0:
                    continue  # the warm-up: a new session's first question
                added = first[qid] - committed - TTFT_S
                if photo_ is None:
                    samples["text"].append(added)
                    continue
                samples["image"].append(added)
                by_earlier.setdefault(earlier, []).append(added)
                earlier += 1
                samples["read"].append(await read(photo_))

        async def one_after_another(slot: int) -> None:
            for index in range(slot * series, (slot + 1) * series):
                await converse(index)

        await asyncio.gather(*(one_after_another(slot) for slot in range(conversations)))
        for ask in asking:
            await ask.close()
        for client in clients:
            await client.realtime.close()
        await conn.close()
        image, text, read_ = (summary_ms(samples[k]) for k in ("image", "text", "read"))
        difference = image["p50_ms"] - text["p50_ms"]
        over = {
            k: round(percentile([s * 1000 for s in v], 50) - text["p50_ms"] - read_["p50_ms"], 3)
            for k, v in by_earlier.items()
        }
        own = summary_ms(by_earlier.get(0, []))
        return {
            "image_added": image,
            "text_added": text,
            "upload_read": read_,
            "image_minus_text_p50_ms": round(difference, 3),
            "extra_over_read_ms": round(difference - read_["p50_ms"], 3),
            "image_minus_text_p99_ms": round(
                percentile([s * 1000 for s in samples["image"]], 99)
                - percentile([s * 1000 for s in samples["text"]], 99),
                3,
            ),
            "own_image_only": {"image_added": own, "extra_over_read_ms": over.get(0, float("nan"))},
            "extra_over_read_ms_by_earlier_images": dict(sorted(over.items())),
        }


def main() -> None:
    storage_root = tempfile.mkdtemp(prefix="cg-bench-storage-")
    try:
        with throwaway_cluster() as cluster:
            port = free_port()
            gateway = f"http://127.0.0.1:{port}"
            settings = Settings()
            env = stack_env(cluster.url, port, settings.supabase.jwt_secret, STORAGE_ROOT=storage_root)
            bench = Stack(cluster.url, gateway, env)
            conversations = Conversations(bench, gateway, photo())
            figures: dict[str, Any] = {"fake_ttft_ms": TTFT_S * 1000, "runs": RUNS}
            serve = ["-m", "localbase", "serve", "--port", str(port)]
            fast = ["--ttft", str(TTFT_S), "--tokens-per-s", "0", "--answer-tokens", "20"]
            with child("gateway", serve, env, f"{gateway}/auth/v1/health"):
                for transport in TRANSPORTS:
                    with bench.fake_and_worker(fast, LLM_IMAGE_TRANSPORT=transport):
                        for count in ROUNDS:
                            figures[f"{transport}_{count}"] = asyncio.run(conversations.measure(count, transport))
            figures["default_transport"] = transport_for("auto", gateway, bench.fake_url)[0]  # the last fake's
            figures["target"] = "extra_over_read_ms <= 0 (image_minus_text_p50_ms <= upload_read_p50_ms)"
            write_report("qwen", figures)
    finally:
        shutil.rmtree(storage_root, ignore_errors=True)


if __name__ == "__main__":
    main()
