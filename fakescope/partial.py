"""Qwen's partial mode, as Model Studio's partial-mode page describes it: the last message of
`messages` is an assistant one with `"partial": true`, its content a prefix, and the model's output
continues that prefix. Both protocols take it (compatible mode as a key of the message).

- Where: `partial` on the last message only, and only on an assistant message; anywhere else the call
  is refused 400 InvalidParameter (the page gives no message; the wording here is ours).
- Which models: the page lists Qwen-Max, -Plus, -Flash and -Turbo, the Qwen3/Qwen3.5 open-source
  series and the VL models (qwen-vl-max, qwen3-vl-plus); not qwen-long, which is refused.
- Thinking: every hybrid model is listed "(non-thinking mode)" only. We read that as refused, not
  silently ignored: DashScope refuses parameter combinations it does not serve (thinking without
  incremental output, JSON mode with thinking) rather than dropping one, and a client that forgets to
  turn thinking off must fail here, not first against the real service. A model that thinks by
  default (Qwen3 open source, Qwen3.5) therefore needs `enable_thinking: false`.
- The reply: only the continuation, never the prefix again. A prefix the question's own answer
  begins with is continued by the rest of that answer (prefix + reply is the whole answer, so a test
  can prove the continuation follows the prefix); other words by an answer chosen by them. Usage
  counts the prefix among the input tokens, as it is part of the messages.
"""

from __future__ import annotations

from typing import Any

from fakescope import tokens
from fakescope.answers import Piece

# The fake's models the page lists (qwen-long is not among them).
PARTIAL_MODELS = frozenset(
    {
        "qwen-turbo",
        "qwen-plus",
        "qwen-max",
        "qwen-flash",
        "qwen3-max",
        "qwen3.5-plus",
        "qwen3.5-flash",
        "qwen3-8b",
        "qwen3-32b",
        "qwen-vl-max",
        "qwen3-vl-plus",
    }
)
WHERE = "The partial parameter is only supported on the last message, and that message must be an assistant message."
NOT_BOOLEAN = "The partial parameter should be a boolean."
THINKING = "Partial mode is not supported in thinking mode; set enable_thinking to false."


def requested(messages: list[Any]) -> tuple[bool, str | None]:
    """Whether the call asks for partial mode, and the refusal when it asks where it may not."""
    last = len(messages) - 1
    for at, message in enumerate(messages):
        flag = message.get("partial") if isinstance(message, dict) else None
        if flag is None or flag is False:
            continue
        if flag is not True:
            return False, NOT_BOOLEAN
        if at != last or message.get("role") != "assistant":
            return False, WHERE
    wanted = isinstance(messages[-1], dict) and messages[-1].get("partial") is True
    return wanted, None


def refusal(model: str, thinking: bool) -> str | None:
    """Why this model or mode does not take partial mode, if it does not."""
    base = model.removesuffix("-latest").split("-20")[0]
    if base not in PARTIAL_MODELS:
        return f"Model {model} does not support partial mode."
    if thinking:
        return THINKING
    return None


def continuation(answer: list[Piece], prefix: str, otherwise: list[Piece]) -> list[Piece]:
    """What follows `prefix`: the rest of `answer` when it begins with the prefix (retokenized, as the
    prefix may end inside a token), else `otherwise` (the answer chosen by the prefix)."""
    text = "".join(p for p, _ in answer)
    if not text.startswith(prefix):
        return otherwise
    return list(tokens.pieces(text[len(prefix) :]))
