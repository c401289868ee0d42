"""The mail folder: one JSON file per mail, written whole (temp file, then rename) so a reader never
sees half a mail. The file's name is the mail's id: `<ns timestamp>-<kind>-<user id>.json`.

Every mail keeps the fields earlier tooling read (`to`, `type`, `user_id`, `otp`, `token_hash`,
`action_link`, `sent_at`) next to what a mailbox shows (`from`, `subject`, `text`, `html`, `read`).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[0-9]+-[a-z_]+-[0-9a-f-]+$")


def write(mail_dir: str | Path, kind: str, user_id: str, mail: dict[str, Any]) -> Path:
    folder = Path(mail_dir)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time_ns()
    path = folder / f"{now}-{kind}-{user_id}.json"
    record = {**mail, "sent_at": now // 1_000_000_000, "created_ns": now, "read": False}
    temporary = folder / f".{path.name}.tmp"
    temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, path)
    return path


def ids(mail_dir: str | Path) -> list[str]:
    """Every mail's id, newest first."""
    folder = Path(mail_dir)
    if not folder.is_dir():
        return []
    found = [p.stem for p in folder.glob("*.json") if _ID.match(p.stem)]
    return sorted(found, key=lambda stem: int(stem.split("-", 1)[0]), reverse=True)


def read(mail_dir: str | Path, mail_id: str) -> dict[str, Any] | None:
    """The mail, or None for an unknown or malformed id (never a path outside the folder)."""
    if not _ID.match(mail_id):
        return None
    path = Path(mail_dir) / f"{mail_id}.json"
    try:
        mail: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    mail["id"] = mail_id
    return mail


def mark_read(mail_dir: str | Path, mail_id: str, seen: bool = True) -> None:
    mail = read(mail_dir, mail_id)
    if mail is None or mail.get("read") == seen:
        return
    mail.pop("id", None)
    mail["read"] = seen
    path = Path(mail_dir) / f"{mail_id}.json"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(mail, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def delete(mail_dir: str | Path, only: list[str] | None = None) -> int:
    """Delete the named mails (all when `only` is None); how many were deleted."""
    targets = ids(mail_dir) if only is None else [i for i in only if _ID.match(i)]
    deleted = 0
    for mail_id in targets:
        try:
            (Path(mail_dir) / f"{mail_id}.json").unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    return deleted
