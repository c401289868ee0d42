"""Deterministic answers: the same conversation always gets the same reply, already cut into tokens.

Replies are assembled from a fixed pool of sentences that were tokenized once at import, so a call
costs a few list operations instead of a tokenizer run. Every sentence starts with a space and ends
with punctuation, which puts sentence boundaries on token boundaries: the pieces of a reply are
exactly the tokens the bundled Qwen tokenizer finds in its text.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from fakescope import tokens

Piece = tuple[str, int]  # text and the number of tokens it is made of

NOTICE = "[offline model] This reply comes from ChatGalaxy's local DashScope fake, because no DASHSCOPE_API_KEY is set."
SENTENCES = (
    " The real model would answer your question here.",
    " Answers are chosen deterministically from what you wrote, so the same question gets the same reply.",
    " Streaming, token usage and error handling behave like the real service.",
    " Set DASHSCOPE_API_KEY and restart to talk to Qwen.",
    " 这是离线模型的回答，用于本地开发和测试。",
    " 设置 DASHSCOPE_API_KEY 后即可连接真正的通义千问。",
    " Latency and speed of this fake are configurable.",
    " Every chunk you see is a real token of the Qwen vocabulary.",
    " 流式输出、用量统计和错误处理都与真实服务一致。",
    " Nothing you type here leaves this machine.",
    " Long answers are made of several of these sentences.",
    " 祝你使用愉快！",
)


# Shown when the question asks for them, so a client can be tested on rendering code and math.
CODE_SAMPLE = '\n\n```python\nprint("hello, galaxy")\n```\n\n'
MATH_SAMPLE = (
    "\n\nEuler's identity: $e^{i\\pi} + 1 = 0$, and a display formula:\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n"
)
_CODE_WORDS = ("code", "代码")
_MATH_WORDS = ("formula", "math", "公式")


def _tokenized(text: str) -> tuple[Piece, ...]:
    return tuple(tokens.pieces(text))


_NOTICE_PIECES = _tokenized(NOTICE)
_SENTENCE_PIECES = tuple(_tokenized(s) for s in SENTENCES)


def seed_of(model: str, contents: Sequence[str], seed: int | None) -> int:
    """A stable number from the last message and the request seed (not Python's salted hash)."""
    last = contents[-1] if contents else ""
    return zlib.crc32(f"{model}\0{last}\0{seed}".encode())


def compose(seed: int, answer_tokens: int, question: str = "") -> list[Piece]:
    """The notice, a code block and/or a formula if the question asks for code or math, then whole
    sentences picked by `seed` until at least `answer_tokens` tokens."""
    out = list(_NOTICE_PIECES)
    lowered = question.lower()
    samples = (CODE_SAMPLE if any(w in lowered for w in _CODE_WORDS) else "") + (
        MATH_SAMPLE if any(w in lowered for w in _MATH_WORDS) else ""
    )
    if samples:  # retokenized whole: the pieces stay exactly the tokens of the text
        out = list(tokens.pieces(NOTICE + samples))
    total = sum(n for _, n in out)
    rng: random.Random | None = None  # seeded only when a sentence is drawn: seeding costs ~4 us
    while total < answer_tokens:
        rng = rng or random.Random(seed)
        sentence = _SENTENCE_PIECES[rng.randrange(len(_SENTENCE_PIECES))]
        out.extend(sentence)
        total += sum(n for _, n in sentence)
    return out


def as_json(pieces: list[Piece]) -> list[Piece]:
    """The reply as JSON mode gives it: one JSON object, `{"answer": <the text>}`, retokenized."""
    return list(tokens.pieces(json.dumps({"answer": "".join(p for p, _ in pieces).strip()}, ensure_ascii=False)))


@dataclass(frozen=True, slots=True)
class Reply:
    pieces: list[Piece]
    finish_reason: str  # "stop" or "length"

    @property
    def text(self) -> str:
        return "".join(p for p, _ in self.pieces)

    @property
    def output_tokens(self) -> int:
        return sum(n for _, n in self.pieces)


def limit(pieces: list[Piece], max_tokens: int | None, stop: Sequence[str]) -> Reply:
    """Cut after `max_tokens` tokens (finish "length") or before the first stop string (finish "stop")."""
    kept, finish = pieces, "stop"
    if max_tokens is not None:
        total = 0
        for i, (_, n) in enumerate(pieces):
            if total + n > max_tokens:
                kept, finish = pieces[:i], "length"
                break
            total += n
    hits = [i for i in ("".join(p for p, _ in kept).find(s) for s in stop if s) if i >= 0]
    if hits:
        return Reply(_cut_at(kept, min(hits)), "stop")
    return Reply(kept, finish)


def _cut_at(pieces: list[Piece], position: int) -> list[Piece]:
    out: list[Piece] = []
    seen = 0
    for piece, n in pieces:
        if seen + len(piece) > position:
            if position > seen:
                out.append((piece[: position - seen], n))
            break
        out.append((piece, n))
        seen += len(piece)
    return out


def events(reply: Reply, tokens_per_event: int) -> list[tuple[str, int]]:
    """Group the pieces into stream events of about `tokens_per_event` tokens: (text, tokens so far)."""
    out: list[tuple[str, int]] = []
    buf: list[str] = []
    pending = 0
    total = 0
    for piece, n in reply.pieces:
        buf.append(piece)
        pending += n
        total += n
        if pending >= tokens_per_event:
            out.append(("".join(buf), total))
            buf, pending = [], 0
    if buf or not out:
        out.append(("".join(buf), total))
    return out
