"""The local Supabase-compatible gateway: Auth, REST, Realtime and the mailbox (supabase/config.toml's
[auth], [api] and [inbucket] keys as its defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

import core.settings.projectconfig as config
from core.settings.env import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class LocalbaseSettings:
    """The Supabase-compatible gateway (auth, rest, realtime) on 127.0.0.1:54321."""

    host: str = field(default_factory=lambda: env_str("LOCALBASE_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("LOCALBASE_PORT", 54321))
    # Auth settings default to supabase/config.toml (core/settings/projectconfig.py), as `supabase start` does;
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
    # Auth's rate limits, as GoTrue counts them (localbase/auth/ratelimits.py): e-mails sent per hour
    # (all addresses; 0: none at all), and per client IP token buckets of 30 refilled at these rates:
    # POST /token per 5 minutes, sign-ups, resends, resets, links, codes and PUT /user per 5 minutes
    # each, /verify per 5 minutes, Web3 sign-ins per 5 minutes, guest sign-ups per hour (a bucket of
    # that many). The defaults are the CLI's config.toml's; 0 is not "off", as in GoTrue.
    rate_email_sent: int = field(
        default_factory=lambda: config.setting_int(
            ("LOCALBASE_RATE_EMAIL_SENT", "GOTRUE_RATE_LIMIT_EMAIL_SENT"), "auth.rate_limit.email_sent", 2
        )
    )
    rate_sign_in_sign_ups: float = field(
        default_factory=lambda: config.setting_float(
            ("LOCALBASE_RATE_SIGN_IN_SIGN_UPS", "GOTRUE_RATE_LIMIT_OTP"), "auth.rate_limit.sign_in_sign_ups", 30
        )
    )
    rate_token_refresh: float = field(
        default_factory=lambda: config.setting_float(
            ("LOCALBASE_RATE_TOKEN_REFRESH", "GOTRUE_RATE_LIMIT_TOKEN_REFRESH"), "auth.rate_limit.token_refresh", 150
        )
    )
    rate_token_verifications: float = field(
        default_factory=lambda: config.setting_float(
            ("LOCALBASE_RATE_TOKEN_VERIFICATIONS", "GOTRUE_RATE_LIMIT_VERIFY"),
            "auth.rate_limit.token_verifications",
            30,
        )
    )
    rate_anonymous_users: float = field(
        default_factory=lambda: config.setting_float(
            ("LOCALBASE_RATE_ANONYMOUS_USERS", "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS"),
            "auth.rate_limit.anonymous_users",
            30,
        )
    )
    rate_web3: float = field(
        default_factory=lambda: config.setting_float(
            ("LOCALBASE_RATE_WEB3", "GOTRUE_RATE_LIMIT_WEB3"), "auth.rate_limit.web3", 30
        )
    )
    # TOTP challenges and verifications per client IP per minute, each route a bucket of 30 of its
    # own forgotten after a minute (GoTrue's MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY, 15 by default; the
    # CLI's config.toml has no key for it, so only the environment changes it).
    rate_mfa_challenge_and_verify: float = field(
        default_factory=lambda: env_float(
            "LOCALBASE_RATE_MFA_CHALLENGE_AND_VERIFY", env_float("GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY", 15.0)
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
