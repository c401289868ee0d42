"""Files of the built SPA, resolved safely and kept in memory with their gzip form.

`vite build` output is small (a few MB) and immutable while served, so each file is read and
compressed once per modification time instead of per request.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = ("text/", "application/json", "image/svg+xml", "application/manifest+json")
_MIN_GZIP = 1024


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: str
    mtime_ns: int


def content_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class DistFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, StaticFile] = {}
        self._lock = threading.Lock()

    def resolve(self, url_path: str) -> Path | None:
        """The file under the root that `url_path` names, or None (missing, a folder, or outside the root)."""
        if not url_path.startswith("/"):
            return None
        parts = PurePosixPath(unquote(url_path.split("?", 1)[0])).parts[1:]
        if not parts or any(part == ".." or "\\" in part or "\x00" in part for part in parts):
            return None
        candidate = self.root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def load(self, path: Path) -> StaticFile:
        mtime_ns = path.stat().st_mtime_ns
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached.mtime_ns == mtime_ns:
            return cached
        body = path.read_bytes()
        kind = content_type(path)
        gzipped = gzip.compress(body, 6, mtime=0) if kind.startswith(_COMPRESSIBLE) and len(body) >= _MIN_GZIP else None
        loaded = StaticFile(body, gzipped, kind, mtime_ns)
        with self._lock:
            self._cache[path] = loaded
        return loaded
