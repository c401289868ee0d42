"""`make doctor` says what is wrong before anything starts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from core.jwt import encode, generate_jwk
from tests.conftest import LocalStack, free_port, launch_stack


def _free_ports() -> dict[str, str]:
    """Every port `make run` binds, on ports nothing here listens on (others' stacks may hold the
    defaults while this runs)."""
    names = ("API_PORT", "WEB_PORT", "FAKESCOPE_PORT", "LOCALBASE_MAIL_PORT")
    return {name: str(free_port()) for name in names}


def _doctor(stack: LocalStack, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.doctor"],
        env={
            **stack.env,
            **_free_ports(),
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


@pytest.fixture
def squatter() -> Iterator[int]:
    """A port another program holds: it accepts connections and answers nothing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_another_program_holds_is_named(stack: LocalStack, squatter: int) -> None:
    result = _doctor(stack, API_PORT=str(squatter))
    assert result.returncode == 1, result.stdout
    assert f"FAIL port {squatter} (API_PORT) is taken by another program" in result.stdout
    assert "set API_PORT" in result.stdout


def test_the_running_stack_holds_its_own_port(stack: LocalStack) -> None:
    # SUPABASE_URL is the stack's gateway on LOCALBASE_PORT: that port answers as the gateway does.
    result = _doctor(stack)
    assert f"ok   port {stack.port} (LOCALBASE_PORT)" in result.stdout, result.stdout


def test_a_real_key_with_the_fakes_address_is_named(stack: LocalStack) -> None:
    fake = f"http://127.0.0.1:{free_port()}"
    result = _doctor(
        stack,
        DASHSCOPE_API_KEY="sk-0123456789abcdef",
        DASHSCOPE_HTTP_BASE_URL=f"{fake}/api/v1",
        FAKESCOPE_PORT=fake.rsplit(":", 1)[1],
    )
    assert result.returncode == 1, result.stdout
    assert "FAIL DASHSCOPE_HTTP_BASE_URL is the offline fake model's address" in result.stdout


def test_the_offline_placeholder_key_is_named(stack: LocalStack) -> None:
    result = _doctor(stack, DASHSCOPE_API_KEY="sk-offline-local")
    assert result.returncode == 1, result.stdout
    assert "FAIL DASHSCOPE_API_KEY is make run's offline placeholder" in result.stdout


def test_a_jwt_secret_the_project_does_not_sign_with_is_named(stack: LocalStack) -> None:
    # The keys left to their defaults are derived from the secret, so they verify with it; only the
    # project itself can say it signs with another one (every signed-in user's token would be refused).
    other = "another-secret-of-at-least-32-characters!!"
    result = _doctor(stack, SUPABASE_JWT_SECRET=other, SUPABASE_ANON_KEY="", SUPABASE_SERVICE_ROLE_KEY="")
    assert result.returncode == 1, result.stdout
    assert f"FAIL the project at {stack.url} refuses SUPABASE_ANON_KEY (REST answered 401)" in result.stdout
    assert "SUPABASE_ANON_KEY is unset, so it is made with SUPABASE_JWT_SECRET" in result.stdout
    assert "apply the migrations" not in result.stdout  # a 401 is no missing schema


def test_signing_keys_the_api_lacks_are_named(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Auth signs with an ES256 key (its public part at /auth/v1/.well-known/jwks.json); the API,
    # configured with the secret alone, would refuse every token it signs.
    key = generate_jwk("ES256", kid="project-key")
    keyed = launch_stack(stack.dsn, tmp_path_factory, SUPABASE_JWT_KEYS=json.dumps([key]))
    try:
        without = _doctor(keyed, SUPABASE_JWT_KEYS="")
        public = {k: v for k, v in key.items() if k not in {"d", "key_ops"}}
        with_public = _doctor(keyed, SUPABASE_JWT_KEYS=json.dumps([public]))
    finally:
        keyed.stop()
    assert without.returncode == 1, without.stdout
    assert "FAIL Auth signs with key(s) project-key that SUPABASE_JWT_KEYS lacks" in without.stdout
    assert with_public.returncode == 0, with_public.stdout


def test_the_local_stack_not_running_yet_is_no_failure(stack: LocalStack) -> None:
    # `make doctor` comes before `make run`: the gateway it will start is not there yet.
    port = free_port()
    result = _doctor(stack, SUPABASE_URL=f"http://127.0.0.1:{port}", LOCALBASE_PORT=str(port))
    assert result.returncode == 0, result.stdout
    assert f"ok   the local stack at http://127.0.0.1:{port} is not running yet" in result.stdout
    assert f"ok   port {port} (LOCALBASE_PORT) is free" in result.stdout


def test_make_run_names_a_taken_port_before_starting_anything(stack: LocalStack, squatter: int) -> None:
    # `make run` (python -m devstack) refuses at once, before Postgres or any child: the API could
    # not bind its port, and devstack's readiness check would have taken the other program for it.
    env = {**stack.env, **_free_ports(), "API_PORT": str(squatter), "LOCALBASE_PORT": str(free_port())}
    env["LOCALBASE_PGDATA"] = "/nonexistent/never-created"  # would fail loudly if the cluster were started
    result = subprocess.run(
        [sys.executable, "-m", "devstack"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"make run: port {squatter} (API_PORT) is taken by another program" in result.stderr
    assert "set API_PORT to a free port" in result.stderr
    assert result.stdout == ""  # nothing started
