"""Where the Supabase project is and which keys open it: the CLI's demo secret and keys by default."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.jwt import KeySet, encode
from core.settings.env import env_str

# The Supabase CLI's well-known local secret (apps/cli-go/pkg/config/apikeys.go).
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
DEMO_KEY_EXP = 1983812996


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
