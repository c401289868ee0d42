"""The HTTP proxy the environment sets for a URL (HTTPS_PROXY, NO_PROXY...), looked up once.

aiohttp's `trust_env=True` would look it up again in a thread on every request: a thread hop
per claim, broadcast and model call. Our sessions are made with the answer found here instead.
"""

from __future__ import annotations

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL


def env_proxy(url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """(proxy, proxy auth) for requests to `url`, or (None, None) to go direct."""
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None
