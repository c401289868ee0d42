"""All configuration, read once from environment variables with typed defaults.

The defaults are the Supabase CLI's local ones (ports, JWT secret, demo keys), so an `.env`
written for `supabase start` works unchanged. `docs/ENVS.md` lists every variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from core import projectconfig as config
from core.jwt import KeySet, encode

# The Supabase CLI's well-known local secret (apps/cli-go/pkg/config/apikeys.go).
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
DEMO_KEY_EXP = 1983812996
LOCAL_DB = "postgresql://postgres:postgres@127.0.0.1:54322/postgres"


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if not value else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if not value else float(value)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def login_as(url: str, user: str) -> str:
    """The same database URL logging in as `user` with the same password (the local roles share one)."""
    parts = urlsplit(url)
    password = f":{parts.password}" if parts.password else ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}{password}@{parts.hostname or '127.0.0.1'}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def demo_key(role: str, secret: str) -> str:
    """The CLI's demo key for `role` (anon, service_role), signed with `secret`: a key left unset."""
    return encode({"iss": "supabase-demo", "role": role, "exp": DEMO_KEY_EXP}, secret)


def _signing_keys() -> str:
    inline = env_str("SUPABASE_JWT_KEYS", "")
    path = env_str("SUPABASE_SIGNING_KEYS_PATH", "")
    if inline or not path:
        return inline
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@dataclass(frozen=True)
class SupabaseSettings:
    """Where the Supabase project is and which keys open it (local stack or hosted)."""

    url: str = field(default_factory=lambda: env_str("SUPABASE_URL", "http://127.0.0.1:54321"))
    jwt_secret: str = field(
        default_factory=lambda: env_str("SUPABASE_JWT_SECRET", env_str("JWT_SECRET", DEMO_JWT_SECRET))
    )
    anon_key: str = field(default_factory=lambda: env_str("SUPABASE_ANON_KEY", ""))
    service_role_key: str = field(default_factory=lambda: env_str("SUPABASE_SERVICE_ROLE_KEY", ""))
    # Asymmetric signing keys (RS256/ES256 JWKs, GOTRUE_JWT_KEYS' format), inline or from the file
    # `supabase gen signing-key` writes. Empty (the `supabase start` default): HS256 with the secret.
    jwt_keys: str = field(default_factory=_signing_keys)
    # What signs and verifies access tokens: the secret plus the configured JWKs (derived).
    keys: KeySet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Keys default to the demo JWTs signed with whatever secret is configured.
        if not self.anon_key:
            object.__setattr__(self, "anon_key", demo_key("anon", self.jwt_secret))
        if not self.service_role_key:
            object.__setattr__(self, "service_role_key", demo_key("service_role", self.jwt_secret))
        object.__setattr__(self, "keys", KeySet.from_config(self.jwt_secret, self.jwt_keys))


@dataclass(frozen=True)
class DatabaseSettings:
    """The PostgreSQL the local stack (and the worker's direct pool) connects to."""

    url: str = field(default_factory=lambda: env_str("DATABASE_URL", LOCAL_DB))
    data_dir: str = field(default_factory=lambda: env_str("LOCALBASE_PGDATA", ".localbase/pgdata"))
    pool_min: int = field(default_factory=lambda: env_int("DB_POOL_MIN", 2))
    pool_max: int = field(default_factory=lambda: env_int("DB_POOL_MAX", 20))


@dataclass(frozen=True)
class LocalbaseSettings:
    """The Supabase-compatible gateway (auth, rest, realtime) on 127.0.0.1:54321."""

    host: str = field(default_factory=lambda: env_str("LOCALBASE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("LOCALBASE_PORT", 54321))
    # Auth settings default to supabase/config.toml (core/projectconfig.py), as `supabase start` does;
    # our variable names win, then GoTrue's own GOTRUE_* names.
    site_url: str = field(
        default_factory=lambda: config.setting_str(
            ("SITE_URL", "GOTRUE_SITE_URL"), "auth.site_url", "http://127.0.0.1:3000"
        )
    )
    autoconfirm: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_AUTOCONFIRM", "GOTRUE_MAILER_AUTOCONFIRM"), "auth.email.enable_confirmations", True, invert=True
        )
    )
    jwt_expiry: int = field(
        default_factory=lambda: config.setting_int(("JWT_EXPIRY", "GOTRUE_JWT_EXP"), "auth.jwt_expiry", 3600)
    )
    refresh_rotation: bool = field(
        default_factory=lambda: config.setting_bool(
            ("REFRESH_TOKEN_ROTATION", "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED"),
            "auth.enable_refresh_token_rotation",
            True,
        )
    )
    refresh_reuse_interval: int = field(
        default_factory=lambda: config.setting_int(
            ("REFRESH_TOKEN_REUSE_INTERVAL", "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL"),
            "auth.refresh_token_reuse_interval",
            10,
        )
    )
    strict_apikey: bool = field(default_factory=lambda: env_bool("LOCALBASE_STRICT_APIKEY", False))
    # [api] schemas, as `supabase start` hands PostgREST (PGRST_DB_SCHEMAS wins, comma-separated).
    exposed_schemas: tuple[str, ...] = field(
        default_factory=lambda: (
            config.setting_list(("PGRST_DB_SCHEMAS",), "api.schemas") or ("public", "graphql_public")
        )
    )
    max_rows: int = field(default_factory=lambda: config.setting_int(("PGRST_DB_MAX_ROWS",), "api.max_rows", 1000))
    # PostgREST's db-tx-end: commit | commit-allow-override | rollback | rollback-allow-override;
    # only the *-allow-override values let a request's `Prefer: tx=` choose.
    rest_tx_end: str = field(default_factory=lambda: env_str("PGRST_DB_TX_END", "commit"))
    # PostgREST's db-plan-enabled (Accept: application/vnd.pgrst.plan) and db-aggregates-enabled;
    # both off by default, and like max rows and tx end also settable in the database
    # (`alter role authenticator set pgrst.db_plan_enabled = 'true'`, then `notify pgrst, 'reload config'`).
    rest_plan_enabled: bool = field(default_factory=lambda: env_bool("PGRST_DB_PLAN_ENABLED", False))
    rest_aggregates_enabled: bool = field(default_factory=lambda: env_bool("PGRST_DB_AGGREGATES_ENABLED", False))
    max_body_bytes: int = field(default_factory=lambda: env_int("LOCALBASE_MAX_BODY_BYTES", 1_048_576))
    mail_dir: str = field(default_factory=lambda: env_str("LOCALBASE_MAIL_DIR", ".localbase/mail"))
    # Auth: GoTrue's bcrypt cost, the product's password rule (character sets separated by ":",
    # each must be represented), how long emailed links and codes live, where redirects may go.
    bcrypt_cost: int = field(default_factory=lambda: env_int("LOCALBASE_BCRYPT_COST", 10))
    password_min_length: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_PASSWORD_MIN_LENGTH", "GOTRUE_PASSWORD_MIN_LENGTH"), "auth.minimum_password_length", 8
        )
    )
    password_required_characters: str = field(
        default_factory=lambda: config.password_characters(
            ("LOCALBASE_PASSWORD_REQUIRED_CHARACTERS", "GOTRUE_PASSWORD_REQUIRED_CHARACTERS"),
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789",
        )
    )
    # supabase/config.toml [auth] enable_anonymous_sign_ins: the product turns guests on (GoTrue's
    # default is off); [auth.email] secure_password_change: a password change needs a fresh
    # sign-in (24 h) or the reauthentication code.
    anonymous_sign_ins: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_ANONYMOUS_SIGN_INS", "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"),
            "auth.enable_anonymous_sign_ins",
            True,
        )
    )
    secure_password_change: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_SECURE_PASSWORD_CHANGE", "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION"),
            "auth.email.secure_password_change",
            False,
        )
    )
    # [auth] enable_signup (GoTrue's DISABLE_SIGNUP, inverted): off, e-mail and guest sign-ups and a
    # magic link to a new address answer 422 signup_disabled; existing users still sign in.
    disable_signup: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_DISABLE_SIGNUP", "GOTRUE_DISABLE_SIGNUP"), "auth.enable_signup", False, invert=True
        )
    )
    # [auth.mfa.totp] enroll_enabled and verify_enabled: TOTP enrolment, and challenges and
    # verifications of a TOTP factor; off: 422 mfa_totp_*_not_enabled. Without a file both are on,
    # as on a hosted project (the CLI's template turns them off, so the product's file says so).
    mfa_totp_enroll: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_MFA_TOTP_ENROLL_ENABLED", "GOTRUE_MFA_TOTP_ENROLL_ENABLED"),
            "auth.mfa.totp.enroll_enabled",
            True,
        )
    )
    mfa_totp_verify: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_MFA_TOTP_VERIFY_ENABLED", "GOTRUE_MFA_TOTP_VERIFY_ENABLED"),
            "auth.mfa.totp.verify_enabled",
            True,
        )
    )
    # [auth.email] double_confirm_changes (GoTrue's secure email change): a new address applies once
    # the links mailed to both the current and the new address are followed.
    secure_email_change: bool = field(
        default_factory=lambda: config.setting_bool(
            ("LOCALBASE_SECURE_EMAIL_CHANGE", "GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED"),
            "auth.email.double_confirm_changes",
            True,
        )
    )
    mailer_otp_exp: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_MAILER_OTP_EXP", "GOTRUE_MAILER_OTP_EXP"), "auth.email.otp_expiry", 86400
        )
    )
    # [auth.email] max_frequency (GoTrue's SMTP_MAX_FREQUENCY, a Go duration): the least time between
    # two mails of one kind to one user (confirmation, recovery and magic link, address change,
    # reauthentication), else 429 over_email_send_rate_limit. Without the key the CLI's template
    # gives 1s; 0 is GoTrue's unset, a minute.
    email_max_frequency: float = field(
        default_factory=lambda: (
            config.setting_duration(
                ("LOCALBASE_EMAIL_MAX_FREQUENCY", "GOTRUE_SMTP_MAX_FREQUENCY"), "auth.email.max_frequency", "1s"
            )
            or 60.0
        )
    )
    redirect_allow_list: tuple[str, ...] = field(
        default_factory=lambda: config.setting_list(
            ("LOCALBASE_REDIRECT_ALLOW_LIST", "GOTRUE_URI_ALLOW_LIST"), "auth.additional_redirect_urls"
        )
    )
    # Auth's rate limits, as GoTrue counts them: e-mails sent per hour (all addresses), and per client
    # IP per 5 minutes: sign-ups and sign-ins, token refreshes, verifications. 0 turns one off.
    rate_email_sent: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_RATE_EMAIL_SENT", "GOTRUE_RATE_LIMIT_EMAIL_SENT"), "auth.rate_limit.email_sent", 0
        )
    )
    rate_sign_in_sign_ups: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_RATE_SIGN_IN_SIGN_UPS", "GOTRUE_RATE_LIMIT_SIGN_IN_SIGN_UPS"),
            "auth.rate_limit.sign_in_sign_ups",
            0,
        )
    )
    rate_token_refresh: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_RATE_TOKEN_REFRESH", "GOTRUE_RATE_LIMIT_TOKEN_REFRESH"), "auth.rate_limit.token_refresh", 0
        )
    )
    rate_token_verifications: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_RATE_TOKEN_VERIFICATIONS", "GOTRUE_RATE_LIMIT_VERIFY"),
            "auth.rate_limit.token_verifications",
            0,
        )
    )
    # TOTP challenges and verifications per client IP per minute, each route counted alone (GoTrue's
    # MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY, 15 by default; the CLI's config.toml has no key for it, so
    # only the environment changes it). 0 turns it off.
    rate_mfa_challenge_and_verify: int = field(
        default_factory=lambda: env_int(
            "LOCALBASE_RATE_MFA_CHALLENGE_AND_VERIFY", env_int("GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY", 15)
        )
    )
    # The mailbox (`python -m localbase mail`): Mailpit's JSON API and a page listing the mails.
    mail_host: str = field(default_factory=lambda: env_str("LOCALBASE_MAIL_HOST", "127.0.0.1"))
    mail_port: int = field(
        default_factory=lambda: config.setting_int(("LOCALBASE_MAIL_PORT", "INBUCKET_PORT"), "inbucket.port", 54324)
    )
    mail_from: str = field(default_factory=lambda: env_str("GOTRUE_SMTP_ADMIN_EMAIL", "admin@email.com"))
    realtime_authz_ttl: float = field(default_factory=lambda: env_float("REALTIME_AUTHZ_TTL_SECONDS", 5.0))
    realtime_heartbeat_timeout: float = field(default_factory=lambda: env_float("REALTIME_HEARTBEAT_TIMEOUT", 60.0))
    # Channels one socket may hold at once, as Realtime's tenant max_channels_per_client (its default).
    realtime_max_channels_per_client: int = field(
        default_factory=lambda: env_int("REALTIME_MAX_CHANNELS_PER_CLIENT", 100)
    )


@dataclass(frozen=True)
class StorageSettings:
    """The local Storage service (/storage/v1): where bytes live and the stack-wide limits."""

    root: str = field(default_factory=lambda: env_str("STORAGE_ROOT", ".localbase/storage"))
    # Largest object any bucket may hold, in bytes (a bucket's own file_size_limit can only lower it).
    file_size_limit: int = field(
        default_factory=lambda: config.setting_size(("STORAGE_FILE_SIZE_LIMIT",), "storage.file_size_limit", 52_428_800)
    )
    upload_url_expiry: int = field(default_factory=lambda: env_int("STORAGE_SIGNED_UPLOAD_URL_EXPIRATION_TIME", 7200))
    # Bytes no row names (a crash between placing them and committing the row) are removed once
    # older than this; it must exceed the longest gap between the two steps of one upload.
    orphan_grace_seconds: float = field(default_factory=lambda: env_float("STORAGE_ORPHAN_GRACE_SECONDS", 600.0))
    empty_bucket_service_only: bool = field(
        default_factory=lambda: env_bool("STORAGE_EMPTY_BUCKET_SERVICE_ONLY", False)
    )
    # How long a gateway reuses a public object's row for downloads (0 turns it off); see
    # localbase/storage/context.py for what may be stale for that long.
    public_cache_seconds: float = field(default_factory=lambda: env_float("STORAGE_PUBLIC_CACHE_SECONDS", 1.0))


@dataclass(frozen=True)
class ModelLimits:
    """Token limits of one model: the whole context window, the most input and the most output."""

    context: int
    max_input: int
    max_output: int


# DashScope's published limits (docs/dashscope spec, section 6); override with LLM_MODEL_LIMITS.
DEFAULT_MODEL_LIMITS = (
    "qwen-turbo=131072/98304/16384,qwen-plus=1000000/129024/32768,qwen-max=32768/30720/8192,"
    "qwen-flash=1000000/997952/32768,qwen-long=10000000/10000000/6144,qwen3-max=262144/258048/65536,"
    "qwen3.5-plus=1000000/991808/65536,qwen3.5-flash=1000000/991808/65536,"
    "qwen3-8b=131072/129024/8192,qwen3-32b=131072/129024/8192,"
    "qwen-vl-max=131072/129024/8192,qwen3-vl-plus=262144/260096/32768"
)


# DashScope's natively multimodal and vision models: its native protocol answers them only through
# MultiModalConversation (deep-thinking page: the Qwen3.5 series "uses a multimodal interface", the
# text endpoint "returns a url error"); compatible mode has no such split.
DEFAULT_MULTIMODAL_MODELS = (
    "qwen-vl-max,qwen-vl-plus,qwen3-vl-plus,qwen3-vl-flash,qwen3.5-plus,qwen3.5-flash,qwen3.6-plus,qwen3.6-flash"
)


def parse_model_limits(spec: str) -> dict[str, ModelLimits]:
    """`name=context/max_input/max_output,...` into a table; used for defaults and overrides alike."""
    table: dict[str, ModelLimits] = {}
    for item in spec.split(","):
        if item.strip():
            name, _, numbers = item.partition("=")
            context, max_input, max_output = (int(n) for n in numbers.split("/"))
            table[name.strip()] = ModelLimits(context, max_input, max_output)
    return table


@dataclass(frozen=True)
class LlmSettings:
    """Which LLM endpoint the worker talks to, with what key, timeouts and prompt budget."""

    provider: str = field(default_factory=lambda: env_str("LLM_PROVIDER", "dashscope"))  # dashscope | openai
    api_key: str = field(default_factory=lambda: env_str("DASHSCOPE_API_KEY", ""))
    dashscope_base_url: str = field(
        default_factory=lambda: env_str("DASHSCOPE_HTTP_BASE_URL", "https://dashscope.aliyuncs.com/api/v1")
    )
    openai_base_url: str = field(
        default_factory=lambda: env_str("LLM_OPENAI_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1")
    )
    openai_api_key: str = field(default_factory=lambda: env_str("LLM_OPENAI_API_KEY", env_str("DASHSCOPE_API_KEY", "")))
    default_model: str = field(default_factory=lambda: env_str("LLM_MODEL", "qwen-turbo"))
    title_model: str = field(default_factory=lambda: env_str("LLM_TITLE_MODEL", "qwen-turbo"))  # session titles
    connect_timeout: float = field(default_factory=lambda: env_float("LLM_CONNECT_TIMEOUT", 10.0))
    read_timeout: float = field(default_factory=lambda: env_float("LLM_READ_TIMEOUT", 60.0))  # max gap between chunks
    max_connections: int = field(default_factory=lambda: env_int("LLM_MAX_CONNECTIONS", 1024))
    prompt_margin: float = field(default_factory=lambda: env_float("LLM_PROMPT_MARGIN", 0.05))
    model_limits: dict[str, ModelLimits] = field(
        default_factory=lambda: parse_model_limits(DEFAULT_MODEL_LIMITS + "," + env_str("LLM_MODEL_LIMITS", ""))
    )
    # A question with images on a model without vision is answered by this model (README, "Images").
    vision_model: str = field(default_factory=lambda: env_str("LLM_VISION_MODEL", "qwen-vl-max"))
    # Models DashScope answers only on the multimodal endpoint (on the text one: "url error, please
    # check url！"), their dated snapshots too; the `models` table says it for the models it lists,
    # this list for any other, and before the table has loaded.
    multimodal_models: frozenset[str] = field(
        default_factory=lambda: frozenset(
            m.strip() for m in env_str("LLM_MULTIMODAL_MODELS", DEFAULT_MULTIMODAL_MODELS).split(",") if m.strip()
        )
    )
    # How images reach the model: "inline" (data URI; works anywhere), "signed_url" (a short-lived
    # Storage link the provider fetches; needs a Storage URL it can reach) or "auto": links when the
    # provider can reach Storage's host, inline after a link it could not download (worker/images.py).
    image_transport: str = field(default_factory=lambda: env_str("LLM_IMAGE_TRANSPORT", "auto"))
    image_url_seconds: int = field(default_factory=lambda: env_int("LLM_IMAGE_URL_SECONDS", 600))
    # The worker keeps the images it has read (data URIs, links) for later turns (worker/images.py).
    image_cache_mb: int = field(default_factory=lambda: env_int("LLM_IMAGE_CACHE_MB", 128))
    # Inline images above this many pixels are sent scaled down to it (worker/images.py); 0: not for
    # that (one DashScope would refuse is still made acceptable: GIF, sides, bytes).
    image_max_pixels: int = field(default_factory=lambda: env_int("LLM_IMAGE_MAX_PIXELS", 1_310_720))
    # A new question's images are read while it is being claimed, at most this many at once; 0: off.
    image_read_ahead: int = field(default_factory=lambda: env_int("LLM_IMAGE_READ_AHEAD", 8))
    # ... and the text of the documents it has read and parsed (worker/documents.py).
    document_cache_mb: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_CACHE_MB", 64))
    # The most a document's text (and a DOCX's unpacked parts) may take; past it, DocumentTooLong
    # (worker/extraction.py): more than any model's context window, and a zip bomb stays packed.
    document_max_mb: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_MAX_MB", 32))

    def multimodal_only(self, model: str) -> bool:
        """Whether `model` (or the model it is a snapshot of: `-latest`, `-2026-...`) answers only on
        the multimodal endpoint, by LLM_MULTIMODAL_MODELS."""
        base = model.removesuffix("-latest").split("-20")[0]
        return model in self.multimodal_models or base in self.multimodal_models

    @property
    def base_url(self) -> str:
        """The endpoint the configured provider calls."""
        return self.dashscope_base_url if self.provider == "dashscope" else self.openai_base_url


@dataclass(frozen=True)
class FakeScopeSettings:
    """Defaults of the fake DashScope server (fakescope); each request may override them."""

    host: str = field(default_factory=lambda: env_str("FAKESCOPE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("FAKESCOPE_PORT", 8089))
    ttft: float = field(default_factory=lambda: env_float("FAKESCOPE_TTFT", 0.5))  # seconds to first token
    tokens_per_s: float = field(default_factory=lambda: env_float("FAKESCOPE_TOKENS_PER_S", 40.0))  # 0 = no pacing
    tokens_per_event: int = field(default_factory=lambda: env_int("FAKESCOPE_TOKENS_PER_EVENT", 3))
    answer_tokens: int = field(default_factory=lambda: env_int("FAKESCOPE_ANSWER_TOKENS", 120))
    jitter: float = field(default_factory=lambda: env_float("FAKESCOPE_JITTER", 0.0))  # +- fraction per interval
    api_keys: tuple[str, ...] = field(
        default_factory=lambda: tuple(k.strip() for k in env_str("FAKESCOPE_API_KEYS", "").split(",") if k.strip())
    )


@dataclass(frozen=True)
class ApiSettings:
    """The Litestar API facade (`python -m api`): listen address, CORS, waits, limits, rate limits."""

    host: str = field(default_factory=lambda: env_str("API_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("API_PORT", 8000))
    cors_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            o.strip()
            for o in env_str("API_CORS_ORIGINS", "http://127.0.0.1:3000,http://localhost:3000").split(",")
            if o.strip()
        )
    )
    answer_timeout: float = field(default_factory=lambda: env_float("API_ANSWER_TIMEOUT", 60.0))  # POST /chat/send wait
    answer_poll_interval: float = field(default_factory=lambda: env_float("API_ANSWER_POLL_INTERVAL", 2.0))
    max_message_chars: int = field(default_factory=lambda: env_int("API_MAX_MESSAGE_CHARS", 8000))
    max_body_bytes: int = field(default_factory=lambda: env_int("API_MAX_BODY_BYTES", 65536))
    # /v1/chat/completions: a request sends its whole conversation (at most 1 MiB of text, checked)
    # and its question's images as data: URIs (10 MiB each at most, checked)
    v1_max_body_bytes: int = field(default_factory=lambda: env_int("API_V1_MAX_BODY_BYTES", 20_971_520))
    # How long the signed attachment links in an account export stay valid, seconds.
    export_link_seconds: int = field(default_factory=lambda: env_int("API_EXPORT_LINK_SECONDS", 604800))
    ws_heartbeat: float = field(default_factory=lambda: env_float("API_WS_HEARTBEAT", 20.0))  # server ping period
    upstream_timeout: float = field(default_factory=lambda: env_float("API_UPSTREAM_TIMEOUT", 10.0))
    upstream_connections: int = field(default_factory=lambda: env_int("API_UPSTREAM_CONNECTIONS", 200))
    rate_limit_enabled: bool = field(default_factory=lambda: env_bool("API_RATE_LIMIT_ENABLED", True))
    rate_window: int = field(default_factory=lambda: env_int("API_RATE_WINDOW", 60))  # seconds per fixed window
    rate_send_per_user: int = field(default_factory=lambda: env_int("API_RATE_SEND_PER_USER", 30))
    rate_send_per_ip: int = field(default_factory=lambda: env_int("API_RATE_SEND_PER_IP", 120))
    rate_auth_per_ip: int = field(default_factory=lambda: env_int("API_RATE_AUTH_PER_IP", 30))
    trust_forwarded_for: bool = field(default_factory=lambda: env_bool("API_TRUST_FORWARDED_FOR", False))
    # The API's own door to Postgres (reads and writes as the caller, see api/database.py): a login
    # role that is neither superuser nor BYPASSRLS and may `set role authenticated`. Locally the
    # stack's `authenticator`; on hosted Supabase a role of your own through the session pooler.
    database_url: str = field(
        default_factory=lambda: env_str(
            "API_DATABASE_URL", login_as(env_str("DATABASE_URL", LOCAL_DB), "authenticator")
        )
    )
    database_pool: int = field(default_factory=lambda: env_int("API_DATABASE_POOL", 10))


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


@dataclass(frozen=True)
class LogSettings:
    """How every service logs: `json` (the seed's format), `pretty` (one readable line per event), or
    `auto`: pretty when stderr is a terminal, JSON otherwise. NO_COLOR turns the colours off."""

    format: str = field(default_factory=lambda: env_str("LOG_FORMAT", "auto").strip().lower())
    no_color: bool = field(default_factory=lambda: bool(os.environ.get("NO_COLOR")))


@dataclass(frozen=True)
class WebSettings:
    """The SPA's static server (`python -m webserve`) and the runtime config it hands the browser.

    The public URLs are what the browser uses; they default to the local addresses of the stack
    and the API, and differ only behind a proxy or with a hosted Supabase project.
    """

    host: str = field(default_factory=lambda: env_str("WEB_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("WEB_PORT", 3000))
    dist_dir: str = field(default_factory=lambda: env_str("WEB_DIST_DIR", "web/dist"))
    public_supabase_url: str = field(default_factory=lambda: env_str("WEB_SUPABASE_URL", ""))  # "" = SUPABASE_URL
    public_api_url: str = field(default_factory=lambda: env_str("WEB_API_URL", ""))  # "" = http://API_HOST:API_PORT


@dataclass(frozen=True)
class Settings:
    supabase: SupabaseSettings = field(default_factory=SupabaseSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    localbase: LocalbaseSettings = field(default_factory=LocalbaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    fakescope: FakeScopeSettings = field(default_factory=FakeScopeSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    web: WebSettings = field(default_factory=WebSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests set the environment before the first call."""
    return Settings()
