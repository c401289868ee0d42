"""Where emailed links may send a browser after /verify: GoTrue's IsRedirectURLValid.

The redirect carries the session in its fragment, so an unchecked `redirect_to` would hand tokens
to any site. As GoTrue (internal/utilities/request.go) a URL passes when it has the site URL's scheme
and host name and its port (any port when the host is a loopback name: RFC 8252's native apps); a
loopback IP literal passes whatever the site; any other IP literal, a host written as one decimal
number, or an http(s) host of unusual characters never does; anything else must match one of
additional_redirect_urls, globs compiled with "." and "/" as separators (gobwas/glob: `*` and `?`
stop at them, `**` does not; `[...]`, `[!...]`, `{a,b}` and `\\` escapes), matched against the URL
without its fragment. A request names it in a `redirect_to` header or query parameter, else its
Referer header counts (`referrer`); a refused URL falls back to the site URL.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

from core.settings import LocalbaseSettings
from localbase.http import Request

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECIMAL = re.compile(r"^[0-9]+\Z")
_REGULAR_HOST = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?\Z")
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})  # noqa: S104 (names, not a bind)


def referrer(request: Request, settings: LocalbaseSettings) -> str:
    """GoTrue's GetReferrer: the `redirect_to` header or query parameter, else the Referer header,
    each only when allowed, else the site URL."""
    requested = request.headers.get("redirect_to") or request.query_value("redirect_to")
    for candidate in (requested, request.headers.get("referer")):
        if candidate and is_allowed(candidate, settings):
            return candidate
    return settings.site_url


def safe_redirect(requested: str | None, settings: LocalbaseSettings) -> str:
    if requested and is_allowed(requested, settings):
        return requested
    return settings.site_url


def is_allowed(url: str, settings: LocalbaseSettings) -> bool:
    if not url or _CONTROL.search(url) or _CONTROL.search(settings.site_url):
        return False  # Go's url.Parse refuses control characters (and a Location header cannot carry them)
    try:
        site, target = urlsplit(settings.site_url), urlsplit(url)
        site_host, target_host = _hostname(site), _hostname(target)
        site_port, target_port = _port(site), _port(target)
    except ValueError:
        return False  # Go's url.Parse refuses it
    same_site = site_host == target_host and site.scheme == target.scheme
    if same_site and (site_port == target_port or _is_local_name(target_host)):
        return True
    if _DECIMAL.match(target_host):
        return False
    address = _ip(target_host)
    if address is not None:
        return address.is_loopback
    if target.scheme in ("http", "https") and not _REGULAR_HOST.match(target_host):
        return False
    without_fragment = url.partition("#")[0]
    return any(_glob(pattern).fullmatch(without_fragment) for pattern in settings.redirect_allow_list)


def _hostname(parts: SplitResult) -> str:
    """Go's URL.Hostname(): the host without its port or brackets, its case kept."""
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        closing = host.find("]")
        if closing < 0:
            raise ValueError("missing ']' in host")
        return host[1:closing]
    return host.partition(":")[0]


def _port(parts: SplitResult) -> str:
    """Go's URL.Port(): the digits after the host, "" when none are written."""
    host = parts.netloc.rpartition("@")[2]
    tail = host[host.find("]") + 1 :] if host.startswith("[") else host
    _, colon, port = tail.partition(":")
    if colon and port and not port.isdigit():
        raise ValueError("invalid port")
    return port


def _is_local_name(host: str) -> bool:
    lowered = host.lower()
    return lowered in _LOCAL_NAMES or lowered.endswith(".localhost")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's net.ParseIP (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """gobwas/glob's pattern with separators "." and "/", as a regular expression."""
    out: list[str] = []
    depth, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            super_asterisk = pattern.startswith("**", i)
            out.append(".*" if super_asterisk else r"[^./]*")
            i += 2 if super_asterisk else 1
            continue
        closing = pattern.find("]", i + 2) if char == "[" else -1
        if closing > 0:
            negated = pattern[i + 1] == "!"
            body = pattern[i + 2 if negated else i + 1 : closing]
            out.append(f"[{'^' if negated else ''}{_class(body)}]")
            i = closing + 1
            continue
        if char == "?":
            out.append(r"[^./]")
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class(body: str) -> str:
    """A character class's letters and `a-z` ranges, escaped for a regular expression."""
    parts, j = [], 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            parts.append(f"{re.escape(body[j])}-{re.escape(body[j + 2])}")
            j += 3
        else:
            parts.append(re.escape(body[j]))
            j += 1
    return "".join(parts)
