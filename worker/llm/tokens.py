"""Local token counts with the Qwen tokenizer bundled in the dashscope package.

Used to budget prompts and as a fallback when an endpoint reports no usage. Loading the vocabulary
takes about 0.25 s, so there is one cached instance per process. A text without `<|` holds no
special token (every one starts so) and is encoded without handing the tokenizer its ~200 special
tokens: the same ids, ~5 µs instead of ~30 µs (as fakescope/tokens.py does).

Counts are kept, as history and system prompts are counted again on every turn: a short text's by
the text itself, a long one's (a question with a document's text: megabytes) by its length and
hash only, so the count cache never holds a document alive (worker/documents.py bounds what is kept
of them). The prompt is built in a thread for questions with files (worker/turn.py): a lock guards
the long counts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache

import dashscope
from dashscope import Tokenizer

# ChatML: each message is <|im_start|>role\n content <|im_end|>\n; the reply starts with a 3-token primer.
PER_MESSAGE = 5
PRIMER = 3
_SPECIAL_START = "<|"
_NO_SPECIALS: frozenset[str] = frozenset()
_LONG = 4096  # characters: a longer text's count is kept by its length and hash, not by the text
_LONG_KEPT = 1024
_long_counts: OrderedDict[tuple[int, int], int] = OrderedDict()
_long_lock = threading.Lock()


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    return dashscope.get_tokenizer("qwen-turbo")


def encode(text: str) -> list[int]:
    """The ids the service's tokenizer gives `text`, special tokens (`<|im_end|>`...) included."""
    if _SPECIAL_START in text:
        return list(tokenizer().encode(text))
    return list(tokenizer().encode(text, allowed_special=_NO_SPECIALS))


def count(text: str) -> int:
    if len(text) <= _LONG:
        return _count_short(text)
    key = (len(text), hash(text))  # a str's hash is keyed per process (SipHash): no one can aim at a clash
    with _long_lock:
        kept = _long_counts.get(key)
        if kept is not None:
            _long_counts.move_to_end(key)
            return kept
    counted = len(encode(text))
    with _long_lock:
        _long_counts[key] = counted
        while len(_long_counts) > _LONG_KEPT:
            _long_counts.popitem(last=False)
    return counted


@lru_cache(maxsize=16384)  # history and system prompts are counted again on every turn
def _count_short(text: str) -> int:
    return len(encode(text))


def measure(text: str) -> int:
    """Tokens of a text counted once (a streamed piece): `count` without keeping it in its cache,
    where it would push out the history and prompts counted on every turn."""
    return len(encode(text))


def chat_tokens(contents: Iterable[str]) -> int:
    """Input tokens of a conversation with these message contents, as the service bills them."""
    return sum(count(c) + PER_MESSAGE for c in contents) + PRIMER


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` that is at most `max_tokens` tokens."""
    ids = encode(text)
    if len(ids) <= max_tokens:
        return text
    keep = max(0, max_tokens)
    while keep > 0:
        prefix = tokenizer().decode(ids[:keep]).rstrip("\ufffd")  # a cut inside a character leaves U+FFFD
        if count(prefix) <= max_tokens:
            return prefix
        keep -= 1
    return ""
