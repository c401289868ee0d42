"""`make doctor` says what is wrong before anything starts."""

from __future__ import annotations

import subprocess
import sys

from core.jwt import encode
from tests.conftest import LocalStack


def _doctor(stack: LocalStack, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.doctor"],
        env={
            **stack.env,
            "SUPABASE_ANON_KEY": stack.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": stack.service_role_key,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_correct_configuration_passes(stack: LocalStack) -> None:
    result = _doctor(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "REST answered 200" in result.stdout


def test_a_key_signed_with_another_secret_is_named(stack: LocalStack) -> None:
    forged = encode({"role": "anon", "iss": "supabase-demo"}, "another-secret-of-at-least-32-characters!!")
    result = _doctor(stack, SUPABASE_ANON_KEY=forged)
    assert result.returncode == 1
    assert "FAIL SUPABASE_ANON_KEY does not verify with SUPABASE_JWT_SECRET" in result.stdout


def test_swapped_keys_are_named(stack: LocalStack) -> None:
    result = _doctor(stack, SUPABASE_ANON_KEY=stack.service_role_key)
    assert result.returncode == 1
    assert "FAIL SUPABASE_ANON_KEY has role 'service_role'" in result.stdout


def test_an_unreachable_project_is_named(stack: LocalStack) -> None:
    result = _doctor(stack, SUPABASE_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Auth at http://127.0.0.1:9 unreachable" in result.stdout
