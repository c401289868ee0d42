"""Local token counts with the Qwen tokenizer bundled in the dashscope package.

Used to budget prompts and as a fallback when an endpoint reports no usage. Loading the vocabulary
takes about 0.25 s, so there is one cached instance per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import dashscope
from dashscope import Tokenizer

# ChatML: each message is <|im_start|>role\n content <|im_end|>\n; the reply starts with a 3-token primer.
PER_MESSAGE = 5
PRIMER = 3


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    return dashscope.get_tokenizer("qwen-turbo")


@lru_cache(maxsize=16384)  # history and system prompts are counted again on every turn
def count(text: str) -> int:
    return len(tokenizer().encode(text))


def chat_tokens(contents: Iterable[str]) -> int:
    """Input tokens of a conversation with these message contents, as the service bills them."""
    return sum(count(c) + PER_MESSAGE for c in contents) + PRIMER


def truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` that is at most `max_tokens` tokens."""
    ids = tokenizer().encode(text)
    if len(ids) <= max_tokens:
        return text
    keep = max(0, max_tokens)
    while keep > 0:
        prefix = tokenizer().decode(ids[:keep]).rstrip("\ufffd")  # a cut inside a character leaves U+FFFD
        if count(prefix) <= max_tokens:
            return prefix
        keep -= 1
    return ""
