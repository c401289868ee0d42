"""deploy/ and the CI workflow name what the code is today: modules, paths, files, variables. No
docker here, so nothing is built; the files are read, the web image's start-up script is run
into a folder, and nginx's configuration is checked against what webserve (`make run`) serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import grimp
import pytest
import yaml

from webserve.runtime import RuntimeConfig

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PACKAGES = ("core", "api", "worker", "localbase", "fakescope", "devstack", "webserve", "ops")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    text = (DEPLOY / dockerfile).read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _copies(dockerfile: str) -> list[tuple[str, str]]:
    """(source, destination) of each COPY from the build context (not --from another stage)."""
    found = []
    for op, rest in _instructions(dockerfile):
        if op == "COPY" and "--from" not in rest:
            *sources, dest = rest.split()
            found += [(src, dest) for src in sources]
    return found


@pytest.mark.parametrize(
    ("dockerfile", "module"),
    [("api.Dockerfile", "api"), ("worker.Dockerfile", "worker"), ("worker.Dockerfile", "ops")],
)
def test_a_python_image_runs_its_module_with_everything_it_imports(dockerfile: str, module: str) -> None:
    cmd = dict(_instructions(dockerfile))["CMD"]
    if module != "ops":  # the lifecycle jobs run from the worker's image (compose.yaml says how)
        assert json.loads(cmd) == ["python", "-m", module]
    else:
        assert "run --rm worker python -m ops" in (DEPLOY / "compose.yaml").read_text()
    assert (ROOT / module / "__main__.py").is_file()
    for src, _ in _copies(dockerfile):
        assert (ROOT / src).exists(), f"{dockerfile} copies {src}, which is not in the repository"
    copied = {src for src, _ in _copies(dockerfile)}
    graph = grimp.build_graph(*PACKAGES)
    imported = {m.split(".")[0] for m in graph.find_upstream_modules(f"{module}.__main__")} | {module}
    assert sorted(imported - copied) == [], f"{dockerfile} lacks packages `python -m {module}` imports"


def test_the_api_image_listens_and_checks_health_where_the_api_does() -> None:
    steps = _instructions("api.Dockerfile")
    env = " ".join(rest for op, rest in steps if op == "ENV")
    port = re.search(r"API_PORT=(\d+)", env)
    assert port is not None
    assert ("EXPOSE", port.group(1)) in steps
    health = next(rest for op, rest in steps if op == "HEALTHCHECK")
    assert f"127.0.0.1:{port.group(1)}/health" in health


def test_compose_builds_the_images_that_exist() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).is_file(), name


def test_the_web_image_serves_the_vite_build_where_nginx_looks() -> None:
    steps = _instructions("web.Dockerfile")
    built = next(rest.split() for op, rest in steps if op == "COPY" and "--from=builder" in rest)
    assert built[1] == "/app/dist"  # vite's default outDir: web/vite.config.ts names no other
    assert "outDir" not in (ROOT / "web" / "vite.config.ts").read_text()
    root = re.search(r"^\s*root\s+(\S+);", (DEPLOY / "nginx.conf").read_text(), re.M)
    assert root is not None
    assert root.group(1) == built[2].rstrip("/")
    entry = [dest for src, dest in _copies("web.Dockerfile") if src == "deploy/web-config.sh"]
    assert entry
    assert entry[0].startswith("/docker-entrypoint.d/")
    assert entry[0].endswith(".sh")
    mode = subprocess.run(
        ["git", "ls-files", "-s", "deploy/web-config.sh"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert mode.startswith("100755"), "nginx's entrypoint skips a script that is not executable"


def test_the_build_context_leaves_out_what_the_images_must_not_take() -> None:
    # `COPY web/ ./` after `npm ci` would lay the checkout's node_modules (this machine's glibc
    # builds of rollup and esbuild) over Alpine's, and the build would fail; .env files are secrets.
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in {"", "#"}
    }
    steps = _instructions("web.Dockerfile")
    ops = [(op, rest) for op, rest in steps if op in {"RUN", "COPY"}]
    assert ops.index(("RUN", "npm ci")) < ops.index(("COPY", "web/ ./"))
    assert {"web/node_modules", "web/dist", ".env", "**/.env", ".localbase", ".venv", ".git"} <= ignored


def _web_config(tmp_path: Path, **env: str) -> tuple[dict[str, str], str]:
    """Run the web image's start-up script into a folder; what the page reads from /config.js (as
    the browser runs it, at https://chat.example.com) and the CSP it gave nginx."""
    html, conf = tmp_path / "html", tmp_path / "conf"
    html.mkdir()
    conf.mkdir()
    base = {"PATH": os.environ["PATH"], "WEB_ROOT": str(html), "NGINX_SNIPPETS": str(conf)}
    subprocess.run(["sh", str(DEPLOY / "web-config.sh")], env={**base, **env}, check=True, timeout=30)
    index = (ROOT / "web" / "index.html").read_text()
    script = re.search(r'<script src="/([^"]+)" vite-ignore>', index)
    assert script is not None
    assert (html / script.group(1)).is_file(), f"index.html loads /{script.group(1)}, which the image never writes"
    node = shutil.which("node")
    assert node is not None
    probe = (
        "globalThis.window = globalThis; globalThis.location = new URL('https://chat.example.com/chat');"
        f"require({json.dumps(str(html / script.group(1)))});"
        "process.stdout.write(JSON.stringify(window.__CHATGALAXY_CONFIG__))"
    )
    read = subprocess.run([node, "-e", probe], capture_output=True, text=True, check=True, timeout=30)
    csp = re.search(r'Content-Security-Policy\s+"([^"]+)"', (conf / "chatgalaxy-csp.conf").read_text())
    assert csp is not None
    return json.loads(read.stdout), csp.group(1)


def test_the_web_image_writes_the_config_the_page_reads(tmp_path: Path) -> None:
    config, csp = _web_config(
        tmp_path,
        SUPABASE_URL="http://kong:8000",  # what the API and the worker reach
        WEB_SUPABASE_URL="https://abcd.supabase.co/",
        SUPABASE_ANON_KEY='anon"key\\',
        WEB_API_URL="https://api.example.com",
    )
    assert config == {
        "supabaseUrl": "https://abcd.supabase.co",
        "supabaseAnonKey": 'anon"key\\',
        "apiUrl": "https://api.example.com",
    }
    expected = RuntimeConfig("https://abcd.supabase.co", "", "https://api.example.com").content_security_policy()
    assert csp == expected  # what webserve sends with the page under `make run`


def test_the_web_image_falls_back_to_supabase_url(tmp_path: Path) -> None:
    config, csp = _web_config(tmp_path, SUPABASE_URL="https://abcd.supabase.co", SUPABASE_ANON_KEY="k")
    assert config["supabaseUrl"] == "https://abcd.supabase.co"
    assert config["apiUrl"] == ""  # the page's own default then (web/src/lib/config.ts)
    assert "connect-src 'self' https://abcd.supabase.co wss://abcd.supabase.co" in csp


def _locations() -> dict[str, str]:
    text = (DEPLOY / "nginx.conf").read_text()
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"^\s*location\s+([^{]+)\{([^}]*)\}", text, re.M)}


def test_nginx_caches_and_falls_back_as_webserve_does() -> None:
    locations = _locations()
    assets = locations["/assets/"]
    assert 'Cache-Control "public, max-age=31536000, immutable"' in assets
    assert "try_files $uri =404;" in assets  # a stale page's missing chunk is a 404, not index.html
    assert 'Cache-Control "no-store"' in locations["= /config.js"]
    spa = locations["/"]
    assert 'Cache-Control "no-cache"' in spa
    assert "try_files $uri $uri/ /index.html;" in spa
    shared = locations["/s/"]  # a share link's page: never cached, indexed or leaked by Referer
    assert 'Cache-Control "no-store"' in shared
    assert 'X-Robots-Tag "noindex, nofollow"' in shared
    assert 'Referrer-Policy "no-referrer"' in shared
    assert "/index.html" in shared
    for name, body in locations.items():
        assert "Referrer-Policy" in body, name


def test_nginx_sends_the_security_headers_from_every_location() -> None:
    # An add_header inside a location drops every add_header of the server block, so each location
    # includes the headers itself.
    for name, body in _locations().items():
        assert "include /etc/nginx/snippets/chatgalaxy-headers.conf;" in body, name
    headers = (DEPLOY / "nginx-headers.conf").read_text()
    assert 'X-Content-Type-Options "nosniff" always' in headers
    assert "include /etc/nginx/snippets/chatgalaxy-csp.conf;" in headers
    copies = dict(_copies("web.Dockerfile"))
    assert copies["deploy/nginx-headers.conf"] == "/etc/nginx/snippets/chatgalaxy-headers.conf"


def test_ci_installs_a_node_the_web_build_runs_on() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    setup = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-node@")]
    assert setup, "Debian 12's apt nodejs is 18, and vite needs ^20.19 || >=22.12"
    wanted = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]["node_modules/vite"]["engines"]
    assert wanted["node"] == "^20.19.0 || >=22.12.0"
    assert str(setup[0]["with"]["node-version"]) in {"20", "22", "24"}
    apt = " ".join(str(s.get("run", "")) for s in steps)
    assert "nodejs" not in apt.split()
    assert "fonts-noto-cjk" in apt  # the Chinese journeys render CJK text, as `make chromium` installs it
    assert steps[-1]["run"].strip() == "make test"
    assert "test:" in (ROOT / "Makefile").read_text()
