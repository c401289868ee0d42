"""Operational docs cannot rot silently: docs/ENVS.md lists exactly the variables the settings read
(the core/settings package and the Supabase config file it takes defaults from), with their defaults."""

from __future__ import annotations

import os
import pkgutil
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from core import settings
from core.settings import env

ROOT = Path(__file__).resolve().parents[1]
# Read elsewhere, by the tools that use them alone (bench/, drills/), and listed with them.
TOOLS = {"BENCH_RUNS", "SEARCH_BENCH_MESSAGES"}


class _Recording(dict[str, str]):
    """An empty environment that remembers every name asked of it."""

    def __init__(self, asked: dict[str, Any]) -> None:
        super().__init__()
        self.asked = asked

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.setdefault(key, None)
        return super().get(key, default)


def _read(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each variable building the settings asks for, with the default it falls back to (None when
    the default is not a literal: another variable, supabase/config.toml)."""
    asked: dict[str, Any] = {}
    modules = [settings, *(getattr(settings, m.name) for m in pkgutil.iter_modules(settings.__path__))]
    for name in ("env_str", "env_int", "env_float", "env_bool"):
        original = getattr(env, name)

        def recording(var: str, default: Any, _original: Any = original) -> Any:
            asked[var] = default
            return _original(var, default)

        for module in modules:  # each module of the package calls the helper it imported
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, recording)
    monkeypatch.setattr(os, "environ", _Recording(asked))
    settings.Settings()
    settings.LogSettings()
    return asked


def _rows() -> list[tuple[list[str], str]]:
    """(variables, default column) of each row of ENVS.md's tables."""
    rows = []
    for line in (ROOT / "docs" / "ENVS.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[1]))
    return rows


def test_every_variable_read_is_documented_and_every_documented_one_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    read = set(_read(monkeypatch))
    assert len(read) > 100, "the recording saw too few variables to be right"
    documented = {name for names, _ in _rows() for name in names}
    assert sorted(read - documented) == [], "read in core/settings/, missing from docs/ENVS.md"
    assert sorted(documented - read - TOOLS) == [], "in docs/ENVS.md, read nowhere"


def _same(documented: str, default: Any) -> bool:
    if isinstance(default, bool):
        return documented.lower() in ({"true", "1"} if default else {"false", "0"})
    if isinstance(default, int | float):
        return float(documented) == float(default)
    return documented == str(default)


def test_the_documented_defaults_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    read = _read(monkeypatch)
    checked, wrong = 0, []
    for names, default in _rows():
        if re.fullmatch(r"`[^`]*`(?:, `[^`]*`)*", default) is None:
            continue
        values = re.findall(r"`([^`]*)`", default)
        if len(values) != len(names):
            continue
        for name, value in zip(names, values, strict=True):
            if read.get(name) is None or re.fullmatch(r"[A-Z][A-Z0-9_]+", value):
                continue  # not a literal: another variable, supabase/config.toml
            checked += 1
            if not _same(value, read[name]):
                wrong.append(f"{name}: documented {value!r}, read {read[name]!r}")
    assert checked > 60, "too few defaults compared to be right"
    assert wrong == []


def test_every_row_is_inside_a_table() -> None:
    # A row after a blank line or prose is shown as a paragraph of pipes, not as part of a table.
    lines = (ROOT / "docs" / "ENVS.md").read_text().splitlines()
    strays = [row for before, row in pairwise(lines) if row.startswith("|") and not before.startswith("|")]
    assert all(row.startswith("| Variable |") for row in strays), strays
