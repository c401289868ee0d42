"""The answering worker's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.database import LOCAL_DB, login_as
from core.settings.env import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class WorkerSettings:
    """The answering worker: identity, concurrency, lease and sweep cadence, retry budget, metrics."""

    worker_id: str = field(default_factory=lambda: env_str("WORKER_ID", ""))  # empty = host-pid-random
    concurrency: int = field(default_factory=lambda: env_int("WORKER_CONCURRENCY", 256))  # turns in flight
    lease_seconds: float = field(default_factory=lambda: env_float("WORKER_LEASE_SECONDS", 30.0))
    max_attempts: int = field(default_factory=lambda: env_int("WORKER_MAX_ATTEMPTS", 5))  # failed claims per answer
    history_limit: int = field(default_factory=lambda: env_int("WORKER_HISTORY_LIMIT", 50))  # messages fetched
    # each session's last history, kept so the next claim walks only the new part (worker/histories.py)
    history_kept_mb: int = field(default_factory=lambda: env_int("WORKER_HISTORY_KEPT_MB", 64))
    # follow-ups' model calls started while they are claimed, at most this many waiting (worker/early.py)
    early_calls: int = field(default_factory=lambda: env_int("WORKER_EARLY_CALLS", 64))
    # with other workers listening, how long a question another worker may have called early waits
    claim_defer: float = field(default_factory=lambda: env_float("WORKER_CLAIM_DEFER", 0.1))
    titles: bool = field(default_factory=lambda: env_bool("WORKER_TITLES", True))  # title sessions after answer 1
    flush_interval: float = field(default_factory=lambda: env_float("WORKER_FLUSH_INTERVAL", 0.25))  # row writes
    sweep_interval: float = field(default_factory=lambda: env_float("WORKER_SWEEP_INTERVAL", 10.0))
    sweep_lookback: float = field(default_factory=lambda: env_float("WORKER_SWEEP_LOOKBACK", 600.0))
    startup_lookback: float = field(default_factory=lambda: env_float("WORKER_STARTUP_LOOKBACK", 7 * 86400.0))
    retry_attempts: int = field(default_factory=lambda: env_int("WORKER_RETRY_ATTEMPTS", 4))  # provider calls
    retry_base: float = field(default_factory=lambda: env_float("WORKER_RETRY_BASE", 0.5))
    retry_cap: float = field(default_factory=lambda: env_float("WORKER_RETRY_CAP", 8.0))
    # Rejoining the Realtime subscription after a loss: base doubling to cap, with jitter, forever.
    realtime_retry_base: float = field(default_factory=lambda: env_float("WORKER_REALTIME_RETRY_BASE", 0.5))
    realtime_retry_cap: float = field(default_factory=lambda: env_float("WORKER_REALTIME_RETRY_CAP", 10.0))
    turn_timeout: float = field(default_factory=lambda: env_float("WORKER_TURN_TIMEOUT", 300.0))
    shutdown_grace: float = field(default_factory=lambda: env_float("WORKER_SHUTDOWN_GRACE", 10.0))
    metrics_port: int = field(default_factory=lambda: env_int("WORKER_METRICS_PORT", 0))  # 0 = off; 9464 usual
    log_level: str = field(default_factory=lambda: env_str("WORKER_LOG_LEVEL", "INFO"))
    # The worker's door to its SQL functions (worker/database.py): a login that may become
    # service_role, direct or through Supavisor's session mode.
    database_url: str = field(
        default_factory=lambda: env_str(
            "WORKER_DATABASE_URL", login_as(env_str("DATABASE_URL", LOCAL_DB), "authenticator")
        )
    )
    database_pool: int = field(default_factory=lambda: env_int("WORKER_DATABASE_POOL", 10))
