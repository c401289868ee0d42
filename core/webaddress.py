"""Whether a text is a web address: an absolute http(s) URL with a host, without spaces or control
characters. The same pattern as the database's checks on profiles.avatar_url and ai_roles.avatar_url
(migrations/20261205142000_avatars_are_web_addresses.sql); the API checks avatars with it before the
database would refuse them (api/rules.py), and the worker keeps only search results it accepts, as
the chat's history, /v1's citations and share links hand a stored address to whoever reads them
(worker/llm/base.py)."""

from __future__ import annotations

import re

_WEB_ADDRESS = re.compile(
    r"https?://(?:[^\x00-\x20\x7f-\x9f/?#@]*@)?[^\x00-\x20\x7f-\x9f/?#@:][^\x00-\x20\x7f-\x9f]*", re.IGNORECASE
)


def is_web_address(text: str) -> bool:
    return _WEB_ADDRESS.fullmatch(text) is not None
