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


def strips_nulls(header: str | None) -> bool:
    """`;nulls=stripped` on PostgREST's own array/object media types drops null-valued keys."""
    if not header or "nulls=stripped" not in header:
        return False
    for part in header.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() in _STRIPPABLE and "nulls=stripped" in params.replace(" ", ""):
            return True
    return False


def content_type(fmt: str, stripped: bool) -> bytes:
    if not stripped:
        return CONTENT_TYPES[fmt]
    media = "application/vnd.pgrst.object+json" if fmt == OBJECT else "application/vnd.pgrst.array+json"
    return f"{media};nulls=stripped; charset=utf-8".encode()


_STRIPPABLE = frozenset({"application/vnd.pgrst.array+json", "application/vnd.pgrst.object+json"})


@dataclass(frozen=True, slots=True)
class Prefer:
    representation: bool = False
    headers_only: bool = False
    count: str | None = None  # exact | planned | estimated
    resolution: str | None = None  # merge | ignore
    missing_default: bool = False
    strict: bool = False
    max_affected: int | None = None
    tx: str | None = None  # commit | rollback, only when the server lets requests override it
    timezone: str | None = None  # a name PostgreSQL knows (pg_timezone_names)

    def applied(self) -> bytes:
        parts = []
        if self.representation:
            parts.append("return=representation")
        if self.headers_only:
            parts.append("return=headers-only")
        if self.count:
            parts.append(f"count={self.count}")
        if self.resolution:
            parts.append(f"resolution={self.resolution}-duplicates")
        if self.missing_default:
            parts.append("missing=default")
        if self.strict:
            parts.append("handling=strict")
        if self.max_affected is not None and self.strict:
            parts.append(f"max-affected={self.max_affected}")
        if self.tx:
            parts.append(f"tx={self.tx}")
        if self.timezone:
            parts.append(f"timezone={self.timezone}")
        return ", ".join(parts).encode()


_NO_PREFERENCES = Prefer()
# Every value PostgREST accepts for each preference; anything else is invalid under handling=strict.
_ACCEPTED = {
    "return": frozenset({"minimal", "representation", "headers-only"}),
    "count": frozenset({"exact", "planned", "estimated"}),
    "resolution": frozenset({"merge-duplicates", "ignore-duplicates"}),
    "missing": frozenset({"default", "null"}),
    "handling": frozenset({"strict", "lenient"}),
    "tx": frozenset({"commit", "rollback"}),
}


def prefer(header: str | None, *, timezones: frozenset[str] = frozenset(), tx_override: bool = False) -> Prefer:
    """Comma-separated (postgrest-py) or repeated (postgrest-js, joined by Request) preferences.

    `tx=` is honoured only when the server allows the override (PostgREST's db-tx-end
    `*-allow-override`); otherwise it is accepted and ignored, as PostgREST does.
    """
    if not header:
        return _NO_PREFERENCES
    values: dict[str, str] = {}
    invalid: list[str] = []
    for item in header.split(","):
        text = item.strip()
        name, _, value = text.partition("=")
        value = value.strip()
        known = value in _ACCEPTED[name] if name in _ACCEPTED else False
        if known or (name == "max-affected" and value.isdigit()) or (name == "timezone" and value in timezones):
            values[name] = value
        elif text:
            invalid.append(text)
    strict = values.get("handling") == "strict"
    if strict and invalid:
        raise RestError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            f"Invalid preferences: {', '.join(invalid)}",
        )
    max_affected = values.get("max-affected")
    return Prefer(
        representation=values.get("return") == "representation",
        headers_only=values.get("return") == "headers-only",
        count=values.get("count"),
        resolution={"merge-duplicates": "merge", "ignore-duplicates": "ignore"}.get(values.get("resolution", "")),
        missing_default=values.get("missing") == "default",
        strict=strict,
        max_affected=int(max_affected) if max_affected is not None else None,
        tx=values.get("tx") if tx_override else None,
        timezone=values.get("timezone"),
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


@dataclass(frozen=True, slots=True)
class PlanMedia:
    """`Accept: application/vnd.pgrst.plan[+json|+text]; for="..."; options=a|b` (what `.explain()` sends)."""

    format: str  # json | text
    target: str  # the media type whose query is explained
    options: tuple[str, ...]  # in PostgREST's order: analyze, verbose, settings, buffers, wal

    def content_type(self) -> bytes:
        options = f"; options={'|'.join(self.options)}" if self.options else ""
        return f'application/vnd.pgrst.plan+{self.format}; for="{self.target}"{options}; charset=utf-8'.encode()


_PLAN_MEDIA = {"application/vnd.pgrst.plan": "text", "application/vnd.pgrst.plan+text": "text"}
_PLAN_MEDIA["application/vnd.pgrst.plan+json"] = "json"
_PLAN_OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")


def plan_media(header: str | None) -> PlanMedia | None:
    """The explain request in an Accept header, if any (its first media type)."""
    if not header or "vnd.pgrst.plan" not in header:
        return None
    media, *params = (part.strip() for part in header.split(",", 1)[0].split(";"))
    fmt = _PLAN_MEDIA.get(media.lower())
    if fmt is None:
        return None
    values = {}
    for param in params:
        name, _, value = param.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    chosen = set(values.get("options", "").split("|"))
    return PlanMedia(fmt, values.get("for") or "application/json", tuple(o for o in _PLAN_OPTIONS if o in chosen))
