"""storage-js, the browser's client, in Node against the local Storage (web/clients/storage-js.mjs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import LocalStack, sign_up

WEB = Path(__file__).resolve().parents[3] / "web"
SCRIPT = WEB / "clients" / "storage-js.mjs"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_storage_js_round_trip_and_refusals(stack: LocalStack) -> None:
    if not (WEB / "node_modules" / "@supabase" / "supabase-js").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, capture_output=True)
    owner, other = sign_up(stack), sign_up(stack)
    env = {
        **os.environ,
        "SUPABASE_URL": stack.url,
        "SUPABASE_ANON_KEY": stack.anon_key,
        "OWNER": f"{owner.email} {owner.password} {owner.id}",
        "OTHER": f"{other.email} {other.password}",
    }
    done = subprocess.run(
        ["node", str(SCRIPT)], check=False, cwd=WEB, env=env, capture_output=True, text=True, timeout=120
    )
    checks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failed = [c for c in checks if not c["ok"]]
    assert not failed, failed
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(checks) == 35, [c["check"] for c in checks]
