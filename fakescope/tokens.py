"""Token counting with the Qwen tokenizer bundled in the dashscope package, so usage is exact.

Loading the vocabulary takes a quarter of a second, hence one cached instance; counts of message
contents are memoised because system prompts and history repeat across calls.
"""

from __future__ import annotations

from functools import lru_cache

import dashscope
from dashscope import Tokenizer

# ChatML: <|im_start|>role\n ... <|im_end|>\n around each message, and the assistant primer at the end.
PER_MESSAGE = 5
PRIMER = 3


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    return dashscope.get_tokenizer("qwen-turbo")


def encode(text: str) -> list[int]:
    return list(tokenizer().encode(text))


@lru_cache(maxsize=65536)
def count(text: str) -> int:
    return len(tokenizer().encode(text))


def chat_tokens(contents: list[str]) -> int:
    """What the service bills as input_tokens for a conversation with these message contents."""
    return sum(count(c) + PER_MESSAGE for c in contents) + PRIMER


def pieces(text: str) -> list[tuple[str, int]]:
    """`text` cut into the strings a model would emit, one per token, each with its token count.

    A token may end inside a multi-byte character; such tokens are joined with the next ones until
    the bytes decode, so every piece is valid text and the counts still add up to the total.
    """
    tok = tokenizer()
    out: list[tuple[str, int]] = []
    pending: list[int] = []
    for token_id in tok.encode(text):
        pending.append(token_id)
        piece = tok.decode(pending)
        if "\ufffd" not in piece:
            out.append((piece, len(pending)))
            pending = []
    if pending:
        out.append((tok.decode(pending), len(pending)))
    return out
