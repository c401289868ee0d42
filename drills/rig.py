"""A drill's world: a throwaway cluster and, as child processes on loopback, the gateway, the fake
model, the workers and (when asked) the API; plus the drill's own database pool and users.

Workers use short leases and sweeps so a dead worker's answers are retaken within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.harness import free_port, throwaway_cluster
from core.jwt import encode
from core.settings import Settings
from drills.children import Child
from localbase.postgres import Cluster

ROOT = Path(__file__).resolve().parent.parent
LOG_ROOT = Path(os.environ.get("DRILLS_LOG_DIR", Path(tempfile.gettempdir()) / "cg-drills"))

FAST_WORKER = {
    "WORKER_LEASE_SECONDS": "2",
    "WORKER_SWEEP_INTERVAL": "0.5",
    "WORKER_FLUSH_INTERVAL": "0.1",
    "WORKER_RETRY_BASE": "0.05",
    "WORKER_RETRY_CAP": "0.5",
    "WORKER_SHUTDOWN_GRACE": "5",
    "WORKER_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Person:
    """A user created as GoTrue would, with one chat session and a signed access token."""

    user_id: str
    session_id: str
    token: str


@dataclass(frozen=True)
class Shape:
    """What a drill needs running: the fake's pacing, how many workers, the API and its limits."""

    fake_args: tuple[str, ...] = ("--ttft", "0.05", "--tokens-per-s", "200", "--answer-tokens", "40")
    workers: int = 1
    worker_env: dict[str, str] = field(default_factory=dict)
    api_env: dict[str, str] | None = None  # None: no API process


@dataclass
class Rig:
    name: str
    cluster: Cluster
    settings: Settings
    gateway: Child
    fake: Child
    fake_url: str
    worker_env: dict[str, str]
    log_dir: Path
    pool: asyncpg.Pool
    workers: list[Child] = field(default_factory=list)
    api: Child | None = None
    generation: int = 0

    @property
    def api_url(self) -> str:
        assert self.api is not None, "this drill runs no API"
        return self.api.url

    @property
    def gateway_url(self) -> str:
        return str(self.gateway.env["SUPABASE_URL"])

    def spawn_api(self, name: str, **env: str) -> Child:
        """An API process (not started) against this rig's gateway, with `env` on top."""
        port = free_port()
        api_env = {
            **_base_env(),
            "SUPABASE_URL": self.gateway_url,
            "SUPABASE_JWT_SECRET": self.settings.supabase.jwt_secret,
            "DATABASE_URL": str(self.gateway.env["DATABASE_URL"]),
            **env,
        }
        url = f"http://127.0.0.1:{port}"
        return Child(name, ["-m", "api", "--port", str(port)], api_env, self.log_dir / f"{name}.log", f"{url}/health")

    def worker(self, slot: int) -> Child:
        """A new incarnation of worker `slot` (not started), with an id that names the incarnation."""
        self.generation += 1
        worker_id = f"drill-w{slot}-{self.generation}"
        env = {**self.worker_env, "WORKER_ID": worker_id}
        return Child(worker_id, ["-m", "worker"], env, self.log_dir / f"{worker_id}.log")

    async def people(self, count: int) -> list[Person]:
        out = []
        now = int(time.time())
        async with self.pool.acquire() as conn:
            for _ in range(count):
                user_id = str(uuid.uuid4())
                await conn.execute(
                    """insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data,
                                               email_confirmed_at, created_at, updated_at)
                       values ($1, 'authenticated', 'authenticated', $2, $3::jsonb, '{"provider":"email"}',
                               now(), now(), now())""",
                    user_id,
                    f"drill-{user_id[:12]}@example.com",
                    json.dumps({"username": f"drill_{user_id[:12]}"}),
                )
                session_id = await conn.fetchval(
                    "insert into chat_sessions (user_id, title) values ($1, 'drill') returning id", user_id
                )
                claims = {"sub": user_id, "role": "authenticated", "aud": "authenticated", "iat": now}
                claims["exp"] = now + 7200
                out.append(Person(user_id, str(session_id), encode(claims, self.settings.supabase.jwt_secret)))
        return out


def _base_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}


@asynccontextmanager
async def rig(name: str, shape: Shape) -> AsyncIterator[Rig]:
    """Build the world for drill `name`, yield it, and tear every process and the cluster down."""
    log_dir = LOG_ROOT / name
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    secret = settings.supabase.jwt_secret
    with ExitStack() as cleanup:
        # throwaway_cluster() migrates with asyncio.run, so it is entered on a thread of its own.
        cluster = await asyncio.to_thread(cleanup.enter_context, throwaway_cluster())
        port, fake_port = free_port(), free_port()
        gateway_url, fake_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{fake_port}"
        gateway_env = {
            **_base_env(),
            "DATABASE_URL": cluster.url,
            "LOCALBASE_PGDATA": str(cluster.data_dir),
            "SUPABASE_URL": gateway_url,
            "SUPABASE_JWT_SECRET": secret,
            "LOCALBASE_MAIL_DIR": str(log_dir / "mail"),
            "LOCALBASE_BCRYPT_COST": "4",
            # Drill users sign up with a session at once and without Auth's rate limits (the
            # product's config.toml has e-mail confirmations and limits on).
            "GOTRUE_MAILER_AUTOCONFIRM": "true",
            # GoTrue's limits have no "off" (0 allows none): rates the drills never reach.
            "GOTRUE_RATE_LIMIT_OTP": "1000000000",
            "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1000000000",
            "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000000000",
            "GOTRUE_RATE_LIMIT_VERIFY": "1000000000",
            "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS": "1000000000",
        }
        gateway = Child(
            "gateway",
            ["-m", "localbase", "serve", "--port", str(port)],
            gateway_env,
            log_dir / "gateway.log",
            f"{gateway_url}/auth/v1/health",
        )
        fake = Child(
            "fakescope",
            ["-m", "fakescope", "--port", str(fake_port), *shape.fake_args],
            _base_env(),
            log_dir / "fakescope.log",
            f"{fake_url}/_fake/stats",
        )
        worker_env = {
            **_base_env(),
            "SUPABASE_URL": gateway_url,
            "SUPABASE_JWT_SECRET": secret,
            "DATABASE_URL": cluster.url,
            "DASHSCOPE_API_KEY": "sk-drill",
            "DASHSCOPE_HTTP_BASE_URL": f"{fake_url}/api/v1",
            **FAST_WORKER,
            **shape.worker_env,
        }
        pool = await asyncpg.create_pool(cluster.url, min_size=0, max_size=4)
        world = Rig(name, cluster, settings, gateway, fake, fake_url, worker_env, log_dir, pool)
        try:
            await asyncio.gather(gateway.start(), fake.start())
            world.workers = [world.worker(slot) for slot in range(shape.workers)]
            if shape.api_env is not None:
                world.api = world.spawn_api("api", **shape.api_env)
            await asyncio.gather(*(w.start() for w in world.workers), *([world.api.start()] if world.api else []))
            yield world
        finally:
            children = [*world.workers, *([world.api] if world.api else []), fake, gateway]
            await asyncio.gather(*(child.stop() for child in children))
            pool.terminate()
