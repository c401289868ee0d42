"""Title requests: asked to title a conversation, the fake answers like a model would, with a short
title in the conversation's language, deterministically (the same conversation, the same title).

A request is a title request when its system message asks for a title (English or Chinese). The
title comes from the first user message: a Chinese conversation gets up to 12 of its Han/letter
characters, any other gets up to its first 6 words, capitalised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ASKS = re.compile(r"\btitle\b|标题", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u9fff]")
_KEEP_ZH = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


def is_title_request(roles: Sequence[str], contents: Sequence[str]) -> bool:
    return bool(roles) and roles[0] == "system" and bool(_ASKS.search(contents[0])) and "user" in roles


def title_for(roles: Sequence[str], contents: Sequence[str]) -> str:
    text = next((c for r, c in zip(roles, contents, strict=True) if r == "user"), "")
    if _HAN.search(text):
        return "".join(_KEEP_ZH.findall(text))[:12] or "新对话"
    words = _WORD.findall(text)[:6]
    return " ".join(w[:1].upper() + w[1:] for w in words) or "New Chat"
