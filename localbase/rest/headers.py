"""The request headers PostgREST reads: Accept, Prefer, Range and the schema profiles."""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest.errors import RestError

JSON = "json"
OBJECT = "object"
CSV = "csv"

_ACCEPT = {
    "application/json": JSON,
    "application/*": JSON,
    "*/*": JSON,
    "application/vnd.pgrst.object+json": OBJECT,
    "application/vnd.pgrst.object": OBJECT,
    "application/vnd.pgrst.array+json": JSON,
    "text/csv": CSV,
}

CONTENT_TYPES = {
    JSON: b"application/json; charset=utf-8",
    OBJECT: b"application/vnd.pgrst.object+json; charset=utf-8",
    CSV: b"text/csv; charset=utf-8",
}


def accept(header: str | None) -> str:
    """The response format; an Accept naming nothing we produce is 406 PGRST107."""
    if not header:
        return JSON
    for part in header.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in _ACCEPT:
            return _ACCEPT[media]
    raise RestError(406, "PGRST107", f"None of these media types are available: {header}")


@dataclass(frozen=True, slots=True)
class Prefer:
    representation: bool = False
    headers_only: bool = False
    count: str | None = None  # exact | planned | estimated
    resolution: str | None = None  # merge | ignore
    missing_default: bool = False
    strict: bool = False
    max_affected: int | None = None

    def applied(self) -> bytes:
        parts = []
        if self.representation:
            parts.append("return=representation")
        if self.count:
            parts.append(f"count={self.count}")
        if self.resolution:
            parts.append(f"resolution={self.resolution}-duplicates")
        if self.missing_default:
            parts.append("missing=default")
        return ", ".join(parts).encode()


_NO_PREFERENCES = Prefer()


def prefer(header: str | None) -> Prefer:
    """Comma-separated (postgrest-py) or repeated (postgrest-js, joined by Request) preferences."""
    if not header:
        return _NO_PREFERENCES
    values: dict[str, str] = {}
    unknown: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name in ("return", "count", "resolution", "missing", "handling", "max-affected", "timezone", "tx"):
            values[name] = value.strip()
        elif name:
            unknown.append(item.strip())
    strict = values.get("handling") == "strict"
    if strict and unknown:
        raise RestError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            f"Invalid preferences: {', '.join(unknown)}",
        )
    count = values.get("count")
    resolution = values.get("resolution")
    max_affected = values.get("max-affected")
    return Prefer(
        representation=values.get("return") == "representation",
        headers_only=values.get("return") == "headers-only",
        count=count if count in ("exact", "planned", "estimated") else None,
        resolution={"merge-duplicates": "merge", "ignore-duplicates": "ignore"}.get(resolution or ""),
        missing_default=values.get("missing") == "default",
        strict=strict,
        max_affected=int(max_affected) if max_affected and max_affected.isdigit() else None,
    )


def range_header(header: str | None) -> tuple[int, int | None] | None:
    """`Range: 0-9` -> (0, 10); `Range: 10-` -> (10, None); anything else is ignored, as PostgREST does."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if not spec:
        spec = unit
    start, dash, end = spec.strip().partition("-")
    if not dash or not start.isdigit() or (end and not end.isdigit()):
        return None
    first = int(start)
    if not end:
        return first, None
    last = int(end)
    if last < first:
        raise RestError(416, "PGRST103", "Requested range not satisfiable", f"An invalid range was given: {spec}")
    return first, last - first + 1


def profile(header: str | None, exposed: tuple[str, ...]) -> str:
    if not header:
        return exposed[0]
    if header not in exposed:
        raise RestError(
            406,
            "PGRST106",
            f"Invalid schema: {header}",
            None,
            f"Only the following schemas are exposed: {', '.join(exposed)}",
        )
    return header
