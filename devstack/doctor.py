"""`make doctor`: say what is missing or wrong in the configuration before anything starts.

Each check prints one line, ok or a problem with the fix. Exit status 1 when any check failed.
Checked: the keys against the secret and the project (a 401 names the key or the secret, not the
migrations), the project's signing keys against the API's, the model's key against its address (a
real key aimed at the offline fake, the fake's placeholder key as a real one), and every port
`make run` binds (free, or already held by that very service).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from core.jwt import JwtError, decode
from core.settings import DEMO_JWT_SECRET, Settings, demo_key, get_settings
from devstack.banner import OFFLINE_KEY

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")  # noqa: S104 - names, not a bind


@dataclass
class Finding:
    ok: bool
    what: str
    fix: str = ""
    running: bool = False  # a port held by the very service `make run` would start there


def _keys(settings: Settings) -> list[Finding]:
    sb = settings.supabase
    findings = []
    for name, key, role in (
        ("SUPABASE_ANON_KEY", sb.anon_key, "anon"),
        ("SUPABASE_SERVICE_ROLE_KEY", sb.service_role_key, "service_role"),
    ):
        try:
            claims = decode(key, sb.keys)
        except JwtError as exc:
            findings.append(
                Finding(
                    False,
                    f"{name} does not verify with SUPABASE_JWT_SECRET ({exc.message})",
                    "copy both from the Supabase dashboard: Project Settings > API",
                )
            )
            continue
        findings.append(
            Finding(
                claims.get("role") == role, f"{name} has role {claims.get('role')!r}", f"{name} must be the {role} key"
            )
        )
    local = urlsplit(sb.url).hostname in LOCAL_HOSTS
    if not local and sb.jwt_secret == DEMO_JWT_SECRET:
        findings.append(
            Finding(
                False,
                "SUPABASE_JWT_SECRET is the public demo secret for a remote project",
                "set the project's JWT secret",
            )
        )
    return findings


def _supabase(settings: Settings) -> list[Finding]:
    sb = settings.supabase
    headers = {"apikey": sb.anon_key}
    findings = []
    # username_available is the one function our migrations open to anon: 200 means REST works
    # and the schema is there; 404 (PGRST202) means the migrations are missing.
    for path, label in (("/auth/v1/health", "Auth"), ("/rest/v1/rpc/username_available?name=doctor", "REST")):
        try:
            response = httpx.get(f"{sb.url}{path}", headers=headers, timeout=5)
        except httpx.TransportError as exc:
            if _is_make_runs_gateway(settings):  # checked before starting: `make run` starts it
                return [Finding(True, f"the local stack at {sb.url} is not running yet: `make run` starts it")]
            findings.append(
                Finding(
                    False, f"{label} at {sb.url} unreachable: {exc}", "start it with `make run`, or fix SUPABASE_URL"
                )
            )
            continue
        ok = response.status_code == 200
        if response.status_code == 401:
            findings.append(_refused(settings, label))
            continue
        fix = "apply the migrations: `supabase db push` (hosted) or `make db-reset` (local)" if label == "REST" else ""
        findings.append(Finding(ok, f"{label} answered {response.status_code}", fix))
        if label == "REST" and ok:
            findings += _signatures(settings)
    return findings


def _is_make_runs_gateway(settings: Settings) -> bool:
    """Whether SUPABASE_URL is the gateway `make run` starts (on this machine, at LOCALBASE_PORT)."""
    url = urlsplit(settings.supabase.url)
    return url.hostname in LOCAL_HOSTS and url.port == settings.localbase.port


def _refused(settings: Settings, label: str) -> Finding:
    """A 401 to the anon key: not the project's key, or (a key left to its default, derived from the
    secret) not the project's secret; the migrations are not what is missing."""
    sb = settings.supabase
    derived = sb.anon_key == demo_key("anon", sb.jwt_secret)
    fix = (
        "SUPABASE_ANON_KEY is unset, so it is made with SUPABASE_JWT_SECRET, and that is not the project's secret "
        "(the API would refuse every signed-in user's token too): set both from Project Settings > API"
        if derived
        else "copy SUPABASE_ANON_KEY from Project Settings > API"
    )
    return Finding(False, f"the project at {sb.url} refuses SUPABASE_ANON_KEY ({label} answered 401)", fix)


def _signatures(settings: Settings) -> list[Finding]:
    """Whether the project and the API agree on what signs a user's token: the API verifies Auth's
    tokens with SUPABASE_JWT_SECRET (and SUPABASE_JWT_KEYS), so a token signed with them must pass
    the project's own check (REST's, the same as Auth's), and every key Auth publishes must be one
    the API knows. Keys left to their defaults are derived from the secret, so they verify with it
    whatever it is; only the project can tell."""
    sb = settings.supabase
    fix = "set SUPABASE_JWT_SECRET (and SUPABASE_JWT_KEYS) to the project's: Project Settings > API / JWT Keys"
    token = sb.keys.sign({"role": "anon", "iss": "chatgalaxy-doctor", "exp": int(time.time()) + 60})
    findings = []
    try:
        probe = httpx.get(
            f"{sb.url}/rest/v1/rpc/username_available?name=doctor",
            headers={"apikey": sb.anon_key, "Authorization": f"Bearer {token}"},
            timeout=5,
        )
        jwks = httpx.get(f"{sb.url}/auth/v1/.well-known/jwks.json", headers={"apikey": sb.anon_key}, timeout=5)
    except httpx.TransportError as exc:
        return [Finding(False, f"the project at {sb.url} stopped answering: {exc}")]
    if probe.status_code == 401:
        findings.append(
            Finding(
                False,
                f"the project at {sb.url} refuses tokens signed with SUPABASE_JWT_SECRET: the API would "
                "refuse every signed-in user's token",
                fix,
            )
        )
    else:
        findings.append(Finding(True, "the project accepts tokens signed with SUPABASE_JWT_SECRET"))
    try:
        published = jwks.json().get("keys", []) if jwks.status_code == 200 else []
    except ValueError:  # not the JWKS document Auth serves: nothing to compare
        published = []
    unknown = [str(key.get("kid")) for key in published if isinstance(key, dict) and key.get("kid") not in sb.keys.keys]
    if unknown:
        findings.append(
            Finding(
                False,
                f"Auth signs with key(s) {', '.join(unknown)} that SUPABASE_JWT_KEYS lacks: the API would refuse "
                "their tokens",
                "set SUPABASE_JWT_KEYS to the project's JWKS (its public keys are enough)",
            )
        )
    return findings


def _model(settings: Settings) -> list[Finding]:
    llm, fake = settings.llm, settings.fakescope
    if llm.api_key == OFFLINE_KEY:
        return [
            Finding(
                False,
                "DASHSCOPE_API_KEY is make run's offline placeholder, not a DashScope key",
                "unset it (make run then answers with the offline fake) or set your key from the DashScope console",
            )
        ]
    url = urlsplit(llm.base_url)
    at_fake = url.hostname in {fake.host, *LOCAL_HOSTS} and (url.port or 80) == fake.port
    if llm.api_key and at_fake:
        name = "DASHSCOPE_HTTP_BASE_URL" if llm.provider == "dashscope" else "LLM_OPENAI_BASE_URL"
        return [
            Finding(
                False,
                f"{name} is the offline fake model's address ({llm.base_url}) though DASHSCOPE_API_KEY is set: "
                "make run starts no fake with a key, so every answer would fail",
                f"unset {name} (DashScope's own is the default; the -intl host for an international key)",
            )
        ]
    if settings.llm.api_key:
        return [
            Finding(
                True, f"model provider {settings.llm.provider} with a key, base URL {settings.llm.dashscope_base_url}"
            )
        ]
    return [Finding(True, "no DASHSCOPE_API_KEY: `make run` uses the offline fake model")]


def _taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ports(settings: Settings) -> list[Finding]:
    """Every port `make run` binds is free, or held by the service `make run` would start there
    (answering where devstack waits for it): a port another program holds fails that service at start."""
    lb, web, api, fake = settings.localbase, settings.web, settings.api, settings.fakescope
    services = [
        ("LOCALBASE_PORT", "the gateway", lb.host, lb.port, "/auth/v1/health"),
        ("LOCALBASE_MAIL_PORT", "the mailbox", lb.mail_host, lb.mail_port, "/livez"),
        ("API_PORT", "the API", api.host, api.port, "/health"),
        ("WEB_PORT", "the web app", web.host, web.port, "/config.js"),
    ]
    if not settings.llm.api_key:
        services.append(("FAKESCOPE_PORT", "the fake model", fake.host, fake.port, "/_fake/stats"))
    findings = []
    for name, what, host, port, ready in services:
        if not _taken(host, port):
            findings.append(Finding(True, f"port {port} ({name}) is free for {what}"))
            continue
        try:
            ours = httpx.get(f"http://{host}:{port}{ready}", timeout=2).status_code == 200
        except httpx.HTTPError:
            ours = False
        if ours:
            findings.append(Finding(True, f"port {port} ({name}) answers as {what} (already running)", running=True))
        else:
            findings.append(
                Finding(
                    False,
                    f"port {port} ({name}) is taken by another program, so {what} cannot start",
                    f"stop that program, or set {name} to a free port",
                )
            )
    return findings


CHECKS: list[Callable[[Settings], list[Finding]]] = [_keys, _supabase, _model, ports]


def main() -> int:
    settings = get_settings()
    failed = False
    for check in CHECKS:
        for finding in check(settings):
            failed |= not finding.ok
            mark = "ok  " if finding.ok else "FAIL"
            print(f"{mark} {finding.what}" + (f"\n     -> {finding.fix}" if not finding.ok and finding.fix else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
