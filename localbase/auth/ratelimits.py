"""Auth's rate limits, counted the way GoTrue counts them (internal/api/apilimiter, tollbooth).

Per client IP, each limited door has a token bucket of its own (golang.org/x/time/rate): it holds
30 requests, refills at the configured rate and is forgotten (so full again) an hour after it was
made. The configured rates, from [auth.rate_limit] as the CLI hands them to GoTrue:
- `token_refresh` (GOTRUE_RATE_LIMIT_TOKEN_REFRESH) per 5 minutes: every POST /token, password
  sign-ins as much as refreshes (one bucket; `web3` has its own);
- `sign_in_sign_ups` (the CLI's GOTRUE_RATE_LIMIT_OTP) per 5 minutes: e-mail sign-ups, /recover,
  /resend, /magiclink, /otp and PUT /user, a bucket each;
- `token_verifications` (GOTRUE_RATE_LIMIT_VERIFY) per 5 minutes: /verify;
- `anonymous_users` (GOTRUE_RATE_LIMIT_ANONYMOUS_USERS) per hour: guest sign-ups, whose bucket
  holds that many, not 30;
- GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY (15, no config.toml key) per minute: TOTP challenges,
  and apart from them verifications, their buckets forgotten after a minute.
Past a bucket, 429 `over_request_rate_limit` before the request is read further; PUT /user and a
factor's challenge and verify only once the session (and the caller's factor) are found, as
GoTrue's middleware runs in that order, so a request refused for those takes nothing. A rate of 0 does
not turn a limit off, as in GoTrue: the bucket's 30 are all there is until it is forgotten (a
guest's bucket then holds none). For the whole instance and hour, mails (`email_sent`), taken as
GoTrue's sendEmail takes them, by the handler about to send one (`EmailBudget.take`), so a request
that sends nothing takes nothing; while confirmations are on, past it 429
`over_email_send_rate_limit`, and with `email_sent` 0 no mail is ever sent (confirmations off or
on). Like GoTrue the counters live in the process, so each gateway counts for itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.settings import LocalbaseSettings
from localbase.auth.errors import AuthError

MINUTE, FIVE_MINUTES, HOUR = 60.0, 300.0, 3600.0
BURST = 30  # tollbooth's SetBurst(30), whatever the rate
OVER_REQUESTS = AuthError(429, "over_request_rate_limit", "Request rate limit reached")
OVER_EMAILS = AuthError(429, "over_email_send_rate_limit", "email rate limit exceeded")
# The doors GoTrue limits at the rate of GOTRUE_RATE_LIMIT_OTP, each with a bucket of its own.
_OTP_DOORS = {("POST", "/recover"), ("POST", "/resend"), ("POST", "/magiclink"), ("POST", "/otp")}
_TOKEN_GRANTS = {"password", "refresh_token", "id_token", "pkce"}


@dataclass
class _Bucket:
    """x/time/rate's Limiter as tollbooth keeps one per key: full when made, gone after its TTL."""

    made: float
    tokens: float
    last: float


@dataclass(frozen=True)
class _Rule:
    per_second: float
    burst: int
    ttl: float


@dataclass
class AuthRateLimits:
    settings: LocalbaseSettings
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def check(self, method: str, path: str, grant_type: str | None, ip: str, now: float | None = None) -> None:
        """Take a token for this request from its door's bucket, if the door is limited before its
        body is read (all but sign-up, and the signed-in doors, which call `take` once the caller
        and the factor are known); raise the 429 when there is none."""
        door = self._door(method, path, grant_type)
        if door is not None:
            self._take(door, ip, now)

    def take(self, door: str, ip: str, now: float | None = None) -> None:
        """A signed-in door's token (`user`: PUT /user; `factor_challenge`, `factor_verify`), taken
        as GoTrue takes it, after the session (and the factor) are checked."""
        self._take(door, ip, now)

    def check_signup(self, body: dict[str, object], ip: str, now: float | None = None) -> None:
        """POST /signup, once its body is read: a guest's (no email, no phone) or an address's bucket.
        Guests while guest sign-ins are off are refused 422 by the handler, counting nothing."""
        if body.get("email") or body.get("phone"):
            self._take("signups", ip, now)
        elif self.settings.anonymous_sign_ins:
            self._take("anonymous", ip, now)

    def _door(self, method: str, path: str, grant_type: str | None) -> str | None:
        if method == "POST" and path == "/token":
            return "token" if grant_type in _TOKEN_GRANTS else "web3" if grant_type == "web3" else None
        if path == "/verify" and method in ("GET", "POST"):
            return "verify"
        if (method, path) in _OTP_DOORS:
            return path.lstrip("/")
        return None

    def _rule(self, door: str) -> _Rule:
        limits = self.settings
        if door == "token":
            return _Rule(limits.rate_token_refresh / FIVE_MINUTES, BURST, HOUR)
        if door == "web3":
            return _Rule(limits.rate_web3 / FIVE_MINUTES, BURST, HOUR)
        if door == "verify":
            return _Rule(limits.rate_token_verifications / FIVE_MINUTES, BURST, HOUR)
        if door == "anonymous":
            return _Rule(limits.rate_anonymous_users / HOUR, int(limits.rate_anonymous_users), HOUR)
        if door.startswith("factor_"):
            return _Rule(limits.rate_mfa_challenge_and_verify / MINUTE, BURST, MINUTE)
        return _Rule(limits.rate_sign_in_sign_ups / FIVE_MINUTES, BURST, HOUR)

    def _take(self, door: str, ip: str, now: float | None) -> None:
        at = time.monotonic() if now is None else now
        rule = self._rule(door)
        key = (door, ip)
        bucket = self._buckets.get(key)
        if bucket is None or at - bucket.made >= rule.ttl:
            if len(self._buckets) > 100_000:  # many addresses: forget the buckets past their hour
                self._buckets = {k: b for k, b in self._buckets.items() if at - b.made < HOUR}
            bucket = self._buckets[key] = _Bucket(at, float(rule.burst), at)
        bucket.tokens = min(float(rule.burst), bucket.tokens + max(at - bucket.last, 0.0) * rule.per_second)
        bucket.last = at
        if bucket.tokens < 1.0:
            raise OVER_REQUESTS
        bucket.tokens -= 1.0


@dataclass
class EmailBudget:
    """`email_sent`: the mails the instance may send per hour, one taken just before each is stored
    and sent. As GoTrue's sendEmail: 0 refuses every mail; otherwise they are counted only while
    autoconfirm is off, in whole hours from the start (its IntervalLimiter)."""

    settings: LocalbaseSettings
    _started: float = field(default_factory=time.monotonic)
    _hits: int = 0

    def take(self, now: float | None = None) -> None:
        limit = self.settings.rate_email_sent
        if limit <= 0:
            raise OVER_EMAILS
        if self.settings.autoconfirm:
            return
        at = time.monotonic() if now is None else now
        if at - self._started >= HOUR:
            self._started += HOUR * ((at - self._started) // HOUR)
            self._hits = 0
        if self._hits >= limit:
            raise OVER_EMAILS
        self._hits += 1
