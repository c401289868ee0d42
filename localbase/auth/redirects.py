"""Where emailed links may send a browser after /verify.

The redirect carries the session in its fragment, so an unchecked `redirect_to` would hand tokens
to any site: like GoTrue, only the site URL's origin, the allow list (glob patterns) and, when the
site itself is local, other loopback origins are accepted; anything else falls back to the site URL.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from core.settings import LocalbaseSettings

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_redirect(requested: str | None, settings: LocalbaseSettings) -> str:
    if requested and is_allowed(requested, settings):
        return requested
    return settings.site_url


def is_allowed(url: str, settings: LocalbaseSettings) -> bool:
    if _CONTROL.search(url):  # Go's url.Parse refuses these, and a Location header cannot carry them
        return False
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        return any(fnmatchcase(url, pattern) for pattern in settings.redirect_allow_list)
    site = urlsplit(settings.site_url)
    if (target.scheme, target.netloc) == (site.scheme, site.netloc):
        return True
    if target.hostname in _LOOPBACK and site.hostname in _LOOPBACK:
        return True
    return any(fnmatchcase(url, pattern) for pattern in settings.redirect_allow_list)
