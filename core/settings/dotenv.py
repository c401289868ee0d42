"""The `.env` files the Supabase CLI reads before supabase/config.toml (apps/cli-go/pkg/config,
config.go loadNestedEnv and loadDefaultEnv, with joho/godotenv).

From the directory of config.toml (`supabase/`) up to the project's (its parent), in each:
`.env.<SUPABASE_ENV>.local`, `.env.local` (not when SUPABASE_ENV is `test`), `.env.<SUPABASE_ENV>`,
`.env`; SUPABASE_ENV is `development` unless set. A name's first value wins (so `supabase/` over
the project's, `.local` over the rest), and the process environment wins over them all, even set
empty (godotenv never overwrites a variable that exists). What they set is what config.toml's
`env(NAME)` and the `SUPABASE_<SECTION>_<KEY>` overrides see; like the CLI, which hands GoTrue only
the settings it builds, they do not set our own or GoTrue's variables (LOCALBASE_*, GOTRUE_*).

A line is `KEY=value` or `KEY: value`, optionally after `export `; `#` starts a comment line, or
one after whitespace in an unquoted value. 'single quotes' keep the text as it is; "double quotes"
read \\n, \\", \\\\ and expand variables, as an unquoted value does: `${NAME}` or `$NAME`, from the
values read before it in the same file, else the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]\s?(.*)$")
_VARIABLE = re.compile(r"(\\)?\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "\\$"}


def env_files(supabase_dir: Path) -> list[Path]:
    """The files the CLI would read for a project whose config.toml is in `supabase_dir`, in order."""
    env = os.environ.get("SUPABASE_ENV") or "development"
    names = [f".env.{env}.local", *([".env.local"] if env != "test" else []), f".env.{env}", ".env"]
    folders = [supabase_dir, supabase_dir.parent] if supabase_dir.parent != supabase_dir else [supabase_dir]
    return [folder / name for folder in folders for name in names]


def parse(text: str) -> dict[str, str]:
    """The variables one `.env` text sets, as godotenv reads its usual forms."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        key, raw = match.group(1), match.group(2).strip()
        found[key] = _value(raw, found)
    return found


def _value(raw: str, known: dict[str, str]) -> str:
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else raw[1:]
    if raw.startswith('"'):
        end, text = 1, []
        while end < len(raw) and raw[end] != '"':
            if raw[end] == "\\" and end + 1 < len(raw):
                end += 1
                text.append(_ESCAPES.get(raw[end], "\\" + raw[end]))
            else:
                text.append(raw[end])
            end += 1
        return _expand("".join(text), known)
    comment = re.search(r"\s#", raw)
    return _expand((raw[: comment.start()] if comment else raw).strip(), known)


def _expand(text: str, known: dict[str, str]) -> str:
    def variable(match: re.Match[str]) -> str:
        if match.group(1):  # \$: a dollar sign
            return match.group(0)[1:]
        name = match.group(2) or match.group(3)
        return known.get(name, os.environ.get(name, ""))

    return _VARIABLE.sub(variable, text)


def environment(supabase_dir: Path) -> dict[str, str]:
    """The environment the CLI would see: the `.env` files' variables under the process's own."""
    found: dict[str, str] = {}
    for path in env_files(supabase_dir):
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        for key, value in parse(text).items():
            found.setdefault(key, value)
    return {**found, **os.environ}
