"""`python -m webserve`: the SPA's static server, run as the supervisor runs it, against a small
dist folder made here."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_http
from tests.e2e.conftest import ROOT

APP_JS = "console.log('chatgalaxy');\n" * 200  # big enough to be worth compressing


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script src="/config.js"></script><div id="app"></div>')
    (root / "assets" / "index-3f2a1b.js").write_text(APP_JS)
    (root / "assets" / "index-3f2a1b.css").write_text("body{margin:0}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the root")
    return root


@pytest.fixture
def server(dist: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "SUPABASE_URL": "http://127.0.0.1:54999",
        "WEB_SUPABASE_URL": "https://project.supabase.example",
        "SUPABASE_ANON_KEY": "anon-key-for-test",
        "API_PORT": "8123",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "webserve", "--port", str(port), "--dist", str(dist)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "webserve.log", "ab"),  # noqa: SIM115 - the child owns it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/config.js", process)
        yield url
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0  # SIGTERM is a clean stop


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A request with the path exactly as given (httpx would normalise `..`)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_client_routes_get_index_html_revalidated_with_a_csp(server: str) -> None:
    for path in ("/", "/history", "/roles", "/login?redirect=/profile"):
        response = httpx.get(server + path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert '<div id="app">' in response.text
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "https://project.supabase.example wss://project.supabase.example" in csp
        assert "frame-ancestors 'none'" in csp


def test_share_pages_are_not_indexed_cached_or_referred(server: str) -> None:
    shared = httpx.get(server + "/s/Q2hhdEdhbGF4eVNoYXJlVG9rZW4xMjM0")
    assert shared.status_code == 200
    assert '<div id="app">' in shared.text
    assert shared.headers["x-robots-tag"] == "noindex, nofollow"
    assert shared.headers["referrer-policy"] == "no-referrer"
    assert shared.headers["cache-control"] == "no-store"
    assert "x-robots-tag" not in httpx.get(server + "/history").headers


def test_hashed_assets_are_cached_for_a_year_and_gzipped(server: str) -> None:
    response = httpx.get(server + "/assets/index-3f2a1b.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(APP_JS) / 10
    assert response.text == APP_JS  # httpx decodes
    plain = httpx.get(server + "/assets/index-3f2a1b.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == APP_JS.encode()
    css = httpx.get(server + "/assets/index-3f2a1b.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    svg = httpx.get(server + "/favicon.svg")
    assert (svg.headers["content-type"], svg.headers["cache-control"]) == ("image/svg+xml", "no-cache")


def test_missing_assets_are_404_not_index_html(server: str) -> None:
    for path in ("/assets/gone-123.js", "/robots.txt", "/assets/"):
        response = httpx.get(server + path)
        assert response.status_code == 404, path
        assert "<div" not in response.text


def test_nothing_outside_the_dist_folder_is_served(server: str) -> None:
    for path in (
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
    ):
        status, body = raw_get(server, path)
        assert b"outside the root" not in body, path
        assert status in {200, 404}, path


def test_runtime_config_comes_from_settings(server: str) -> None:
    response = httpx.get(server + "/config.js")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    prefix = "window.__CHATGALAXY_CONFIG__ = "
    assert response.text.startswith(prefix)
    config = json.loads(response.text.removeprefix(prefix).rstrip().rstrip(";"))
    assert config == {
        "supabaseUrl": "https://project.supabase.example",
        "supabaseAnonKey": "anon-key-for-test",
        "apiUrl": "http://127.0.0.1:8123",
    }


def test_head_and_other_methods(server: str) -> None:
    head = httpx.head(server + "/assets/index-3f2a1b.js", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(APP_JS)
    assert httpx.post(server + "/", content=b"x").status_code == 501


def test_refuses_to_start_without_a_build(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "webserve", "--port", str(free_port()), "--dist", str(tmp_path / "nothing")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 2
    assert "make web-build" in run.stderr


def test_gzip_payload_is_valid(server: str) -> None:
    with httpx.stream("GET", server + "/assets/index-3f2a1b.js", headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())
    assert gzip.decompress(body) == APP_JS.encode()
