"""Auth's rate limits, counted the way GoTrue counts them, from [auth.rate_limit] in config.toml.

Per client IP and 5-minute window: sign-ups and password sign-ins (`sign_in_sign_ups`), token
refreshes (`token_refresh`), verifications (`token_verifications`); per client IP and minute: TOTP
challenges, and apart from them TOTP verifications (GoTrue's MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY,
15 unless set: a 6-digit code is otherwise guessed at the client's pace). Those refuse a request
429 `over_request_rate_limit` before anything is read or written. For the whole instance and hour:
mails (`email_sent`), taken as GoTrue's sendEmail takes them, by the handler about to send one
(`EmailBudget.take`), so a request that sends nothing takes nothing; like GoTrue only while
confirmations are on; past it 429 `over_email_send_rate_limit`. Like GoTrue the counters live in
the process, so each gateway counts for itself. A limit of 0 is off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.settings import LocalbaseSettings
from localbase.auth.errors import AuthError

MINUTE, FIVE_MINUTES, HOUR = 60.0, 300.0, 3600.0
OVER_REQUESTS = AuthError(429, "over_request_rate_limit", "Request rate limit reached")
OVER_EMAILS = AuthError(429, "over_email_send_rate_limit", "email rate limit exceeded")


@dataclass
class _Window:
    started: float
    hits: int = 0


@dataclass
class AuthRateLimits:
    settings: LocalbaseSettings
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def check(self, method: str, path: str, grant_type: str | None, ip: str, now: float | None = None) -> None:
        """Count this request against its buckets; raise the 429 when one is full."""
        at = time.monotonic() if now is None else now
        limits = self.settings
        if method == "POST" and (path == "/signup" or (path == "/token" and grant_type == "password")):
            self._hit(("sign_in_sign_ups", ip), limits.rate_sign_in_sign_ups, FIVE_MINUTES, at)
        if method == "POST" and path == "/token" and grant_type == "refresh_token":
            self._hit(("token_refresh", ip), limits.rate_token_refresh, FIVE_MINUTES, at)
        if path == "/verify":
            self._hit(("token_verifications", ip), limits.rate_token_verifications, FIVE_MINUTES, at)
        if method == "POST" and path.startswith("/factors/"):
            action = path.rsplit("/", 1)[-1]
            if action in {"challenge", "verify"} and path.count("/") == 3:
                self._hit((f"factor_{action}", ip), limits.rate_mfa_challenge_and_verify, MINUTE, at)

    def _hit(
        self, key: tuple[str, str], limit: int, period: float, now: float, error: AuthError = OVER_REQUESTS
    ) -> None:
        if limit <= 0:
            return
        window = self._windows.get(key)
        if window is None or now - window.started >= period:
            if len(self._windows) > 100_000:  # many addresses: forget the finished windows
                self._windows = {k: w for k, w in self._windows.items() if now - w.started < HOUR}
            window = self._windows[key] = _Window(now)
        if window.hits >= limit:
            raise error
        window.hits += 1


@dataclass
class EmailBudget:
    """`email_sent`: the mails the instance may send per hour, one taken just before each is stored
    and sent (GoTrue counts in sendEmail, and only while autoconfirm is off)."""

    settings: LocalbaseSettings
    _window: _Window | None = None

    def take(self, now: float | None = None) -> None:
        limit = self.settings.rate_email_sent
        if limit <= 0 or self.settings.autoconfirm:
            return
        at = time.monotonic() if now is None else now
        if self._window is None or at - self._window.started >= HOUR:
            self._window = _Window(at)
        if self._window.hits >= limit:
            raise OVER_EMAILS
        self._window.hits += 1
