"""Run supabase-js (web/node_modules, the version the SPA ships) in Node from a test.

`run_js(source, **inputs)` evaluates `source` as the body of an async function that sees `input`
(the keyword arguments, as JSON), `client(key?)` (a supabase-js client on `input.url` with the
session in memory), and `calls` (every HTTP request the clients made, as "METHOD /path"); whatever
it returns comes back decoded from JSON. Realtime runs over the `ws` package (Node 20 has no
global WebSocket).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[3] / "web"

_PRELUDE = """
const { createClient } = require('@supabase/supabase-js');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const calls = [];
const recordingFetch = (url, init) => {
  calls.push(`${(init && init.method) || 'GET'} ${new URL(url).pathname}`);
  return fetch(url, init);
};
const client = (key) => createClient(input.url, key || input.anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  global: { fetch: recordingFetch },
  realtime: { transport: require('ws') },  // Node 20 has no global WebSocket
});
const plain = (value) => JSON.parse(JSON.stringify(value === undefined ? null : value));
(async () => {
"""

_POSTLUDE = """
})().then(
  (result) => process.stdout.write(JSON.stringify(plain(result))),
  (error) => { console.error(error && error.stack || error); process.exit(1); },
);
"""


def run_js(source: str, **inputs: Any) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the supabase-js tests need Node.js 20")
    if not (WEB / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail("web/node_modules is missing: run `npm ci` in web/")
    done = subprocess.run(
        [node, "-e", _PRELUDE + source + _POSTLUDE],
        cwd=WEB,
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"supabase-js script failed:\n{done.stderr}")
    return json.loads(done.stdout)
