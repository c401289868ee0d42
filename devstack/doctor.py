"""`make doctor`: say what is missing or wrong in the configuration before anything starts.

Each check prints one line, ok or a problem with the fix. Exit status 1 when any check failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from core.jwt import JwtError, decode
from core.settings import DEMO_JWT_SECRET, Settings, get_settings


@dataclass
class Finding:
    ok: bool
    what: str
    fix: str = ""


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
    local = sb.url.startswith(("http://127.0.0.1", "http://localhost"))
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
            findings.append(
                Finding(
                    False, f"{label} at {sb.url} unreachable: {exc}", "start it with `make run`, or fix SUPABASE_URL"
                )
            )
            continue
        ok = response.status_code == 200
        fix = "apply the migrations: `supabase db push` (hosted) or `make db-reset` (local)" if label == "REST" else ""
        findings.append(Finding(ok, f"{label} answered {response.status_code}", fix))
    return findings


def _model(settings: Settings) -> list[Finding]:
    if settings.llm.api_key:
        return [
            Finding(
                True, f"model provider {settings.llm.provider} with a key, base URL {settings.llm.dashscope_base_url}"
            )
        ]
    return [Finding(True, "no DASHSCOPE_API_KEY: `make run` uses the offline fake model")]


CHECKS: list[Callable[[Settings], list[Finding]]] = [_keys, _supabase, _model]


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
