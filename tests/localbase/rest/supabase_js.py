"""supabase-js (web/node_modules, the version the SPA ships) in one Node process for the REST tests.

`SupabaseJs.run(source, **inputs)` evaluates `source` as the body of an async function that sees
`input` (the keyword arguments), `anon` and `service` (supabase-js clients on the stack with the
demo keys) and `client(key)`; what it returns comes back decoded from JSON. A supabase-js result
(`{data, error, count, status, statusText}`) is returned as is: its `error` is the body PostgREST
sent. One process serves the whole session, so a call costs a round trip, not a Node start-up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parents[3] / "web"

_SERVER = r"""
const { createClient } = require('@supabase/supabase-js');
const readline = require('readline');
const [url, anonKey, serviceKey] = process.argv.slice(1);
const client = (key) => createClient(url, key, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: require('ws') },  // Node 20 has no WebSocket of its own
});
const anon = client(anonKey);
const service = client(serviceKey);
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const plain = (value) => JSON.parse(JSON.stringify(value === undefined ? null : value));
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const { source, input } = JSON.parse(line);
  let reply;
  try {
    const body = new AsyncFunction('input', 'anon', 'service', 'client', source);
    reply = { ok: true, value: plain(await body(input, anon, service, client)) };
  } catch (error) {
    reply = { ok: false, error: String((error && error.stack) || error) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
"""


class SupabaseJs:
    def __init__(self, url: str, anon_key: str, service_key: str) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is missing: the supabase-js tests need Node.js 20")
        if not (WEB / "node_modules" / "@supabase" / "supabase-js").is_dir():
            raise RuntimeError("web/node_modules is missing: run `npm ci` in web/ (make web-test does)")
        self._process = subprocess.Popen(
            [node, "-e", _SERVER, url, anon_key, service_key],
            cwd=WEB,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"},
        )

    def run(self, source: str, **inputs: Any) -> Any:
        """Evaluate `source` (an async function body) and return its result."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(json.dumps({"source": source, "input": inputs}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise AssertionError("the supabase-js process exited")
        reply = json.loads(line)
        if not reply["ok"]:
            raise AssertionError(f"supabase-js script failed:\n{reply['error']}")
        return reply["value"]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)
