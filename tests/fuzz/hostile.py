"""Hostile strings, how many examples to draw, and the settings that make a draw repeatable.

`make test` runs every property here on a fixed, derandomized set of examples (the same requests on
every run and every machine) plus the explicit cases fuzzing once found; `make fuzz` (CG_FUZZ=1)
draws fresh ones, many more, and reports. A case `make fuzz` finds goes into FOUND (or the test's
explicit examples) so `make test` keeps checking it.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

FUZZ = os.environ.get("CG_FUZZ") == "1"
# `make fuzz`: at least this many generated requests per suite (the API's operations; REST + Auth).
FUZZ_REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "2000"))

LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff", "a\ud800b")
MARKS = ("\u202e", "\u200f", "\u200e", "\u2066", "\u061c", "\ufeff", "\u200b", "\u00ad")
SQL = (
    "' or '1'='1",
    "'; drop table public.chat_messages; --",
    "1; select pg_sleep(0)",
    '" or ""="',
    "$$; copy x to program 'id'; $$",
    "%' union select null--",
    "E'\\x00'",
    "not.is.null",
    "eq.1),or(id.neq.0",
    "*,auth.users(*)",
)
PATHS = (
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "..\\..\\windows",
    "%2e%2e/",
    "/./",
    "//",
    "%00",
    "~root",
    "?x=1#",
)
MISC = (
    "\x00",
    "a\x00b",
    "\r\n",
    "\t",
    "",
    " ",
    "%",
    "%%",
    "%zz",
    "\\",
    '"',
    "'",
    "(",
    ")",
    ",",
    ".",
    ":",
    "*",
    "🙂",
    "𠜎",
    "ǅ",
    "İ",
    "ß",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "NaN",
    "-1",
    "1e309",
    "null",
    "true",
    "[]",
    "{}",
)
FRAGMENTS: tuple[str, ...] = LONE_SURROGATES + MARKS + SQL + PATHS + MISC
BIG = 100_000  # characters: a "100 KB value"
IN_URL = 1_500  # characters of one value in a URL: percent-encoded it stays under httpx's 64 KB cap


def _repeat(fragment: str, size: int) -> str:
    unit = fragment or "x"
    return (unit * (size // len(unit) + 1))[:size]


def hostile_text(big: int = BIG) -> st.SearchStrategy[str]:
    """A hostile string: a known-bad fragment, a mix of them with ordinary text, or `big` characters
    of one (100 KB; less where it must fit in a URL, which clients cap at 64 KB)."""
    fragment = st.sampled_from(FRAGMENTS)
    return st.one_of(
        fragment,
        st.lists(st.one_of(fragment, st.text(max_size=6)), min_size=2, max_size=6).map("".join),
        fragment.map(lambda f: _repeat(f, big)),
    )


def hostile_value(big: int = BIG) -> st.SearchStrategy[Any]:
    """A JSON value where a string is expected: usually a hostile string (of at most `big`
    characters), sometimes the wrong type."""
    return st.one_of(
        hostile_text(big),
        hostile_text(big),
        hostile_text(big),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([None, True, 1.5, [], {}, ["x"], {"a": "\x00"}]),
    )


def mostly(usual: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` two times in three, so most requests get past the checks to the code behind them."""
    return st.sampled_from((True, True, False)).flatmap(lambda usual_one: usual if usual_one else hostile)


def fuzz_settings(fixed: int, *, fuzz: int | None = None) -> settings:
    """`fixed` derandomized examples in `make test`; `fuzz` fresh ones (default FUZZ_REQUESTS) in `make fuzz`."""
    return settings(
        max_examples=(fuzz if fuzz is not None else FUZZ_REQUESTS) if FUZZ else fixed,
        derandomize=not FUZZ,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink] if FUZZ else [Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=FUZZ,
    )


def per_operation(fixed: int, operations: int) -> settings:
    """Examples per API operation: `fixed` in `make test`, enough for FUZZ_REQUESTS overall in `make fuzz`."""
    return fuzz_settings(fixed, fuzz=max(fixed, math.ceil(FUZZ_REQUESTS * 1.1 / max(operations, 1))))


def json_bytes(value: Any) -> bytes:
    """JSON the way a hostile client may send it: lone surrogates as \\ud800 escapes (httpx would refuse)."""
    return json.dumps(value, ensure_ascii=True).encode()


def url_part(text: str) -> str:
    """`text` percent-encoded for a URL, a lone surrogate as its (invalid) UTF-8 bytes."""
    return quote(text, safe="", errors="surrogatepass")


def as_utf8(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD: what UTF-8 can
    carry."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [as_utf8(item) for item in value]
    if isinstance(value, dict):
        return {as_utf8(key): as_utf8(item) for key, item in value.items()}
    return value


def text_frame(text: str) -> str:
    """`text` as a WebSocket text frame can carry it: frames are UTF-8, so a lone surrogate becomes
    U+FFFD (no client can send one; the server must fail such a frame's connection, RFC 6455 8.1)."""
    return str(as_utf8(text))
