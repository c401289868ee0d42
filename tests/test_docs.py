"""Operational docs cannot rot silently: every variable read in core/settings.py is in docs/ENVS.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_is_documented() -> None:
    source = (ROOT / "core" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert len(read) > 50, "the settings parser found too few variables to be right"
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "ENVS.md").read_text()))
    assert sorted(read - documented) == []
