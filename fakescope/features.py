"""What a call asks for beyond plain text: thinking, web search with sources, and the context cache.

Each is deterministic, as DashScope documents and records it (../shared/specs/dashscope-features.md):
- Thinking (`enable_thinking` on a hybrid model, or not false on one that thinks by default):
  `reasoning_content` deltas, from a fixed pool of
  thoughts, before the answer; at most `thinking_budget` tokens of them (a budget of 0 or less, or
  past the model's `MAX_REASONING`, is refused as DashScope refuses it); `output_tokens` includes them
  and `output_tokens_details.reasoning_tokens` counts them apart.
- Search (`enable_search`): three results chosen by the question; with `search_options.enable_source`
  they arrive as `output.search_info.search_results` in the first event; with `enable_citation` the
  answer cites them as `citation_format` ("[<number>]" by default); `usage.plugins.search` counts one
  search; the results are read by the model, so they add to `input_tokens`.
- Context cache (implicit): the longest run of leading messages this model has seen before in a
  call, if it is at least `CACHE_MIN_TOKENS` long, is reported as `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import random
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fakescope import tokens
from fakescope.answers import Piece

# Hybrid models: thinking when `enable_thinking` is true, or when it is not sent to one that thinks by
# default (THINKING_BY_DEFAULT); commercial models do not ("You need to set enable_thinking to true").
THINKING_MODELS = frozenset(
    {
        "qwen-turbo",
        "qwen-plus",
        "qwen-flash",
        "qwen3-max",
        "qwen3-8b",
        "qwen3-32b",
        "qwen3.5-plus",
        "qwen3.5-flash",
        "qwen3-vl-plus",
    }
)
# Hybrid models that think unless `enable_thinking` is false: the open-source Qwen3 models (Model Studio's
# deep-thinking page: the commercial ones default to off, the open-source ones to on) and Qwen3.5
# ("Qwen3.5 (enabled by default)", docs.qwencloud.com thinking guide).
THINKING_BY_DEFAULT = frozenset({"qwen3-8b", "qwen3-32b", "qwen3.5-plus", "qwen3.5-flash"})
# The longest chain of thought each hybrid model takes, the most `thinking_budget` may be: "The
# thinking_budget parameter must be a positive integer and not greater than <this>" otherwise
# (DashScope's error-code page). Model Studio's model list gives it per model and snapshot; the
# stored sources we could search hold no such table, so every hybrid model here takes 38,912, a
# conservative figure: Qwen3's own longest suggested output (its model cards: 38,912 tokens for
# competition problems) and, to our knowledge, the lowest that list gives a Qwen3 hybrid model.
# A budget the product sends (at most public.models.max_reasoning) is then within reach of each.
MAX_REASONING = dict.fromkeys(THINKING_MODELS, 38_912)
SEARCH_MODELS = frozenset({"qwen-turbo", "qwen-plus", "qwen-flash", "qwen-max", "qwen3-max", "qwen3.5-plus"})
CACHE_MIN_TOKENS = 256
_CACHE_ENTRIES = 100_000
SEARCH_RESULT_TOKENS = 300  # what reading the results adds to input_tokens

THOUGHTS = (
    " Let me think about what is being asked.",
    " 首先，我需要理解用户的问题。",
    " The question has a few parts; I will take them one at a time.",
    " 我应该先检查一下已知条件。",
    " A short, direct answer will serve best here.",
    " 然后整理思路，给出清晰的回答。",
    " I should double-check the reasoning before answering.",
)
_THOUGHT_PIECES = tuple(tuple(tokens.pieces(t)) for t in THOUGHTS)
_SITES = (
    ("Wikipedia", "https://en.wikipedia.org/wiki/"),
    ("百度百科", "https://baike.baidu.com/item/"),
    ("MDN Web Docs", "https://developer.mozilla.org/en-US/docs/"),
    ("知乎", "https://www.zhihu.com/question/"),
    ("Python docs", "https://docs.python.org/3/library/"),
)


def thinking_wanted(model: str, params: dict[str, Any]) -> bool:
    """Whether the call thinks: asked to, or not told not to on a model that thinks by default."""
    base = model.removesuffix("-latest").split("-20")[0]
    asked = params.get("enable_thinking")
    return base in THINKING_MODELS and (asked is True or (asked is None and base in THINKING_BY_DEFAULT))


def budget_error(model: str, params: dict[str, Any]) -> str | None:
    """DashScope's refusal of a `thinking_budget` a hybrid model cannot take, else None."""
    budget = params.get("thinking_budget")
    most = MAX_REASONING.get(model.removesuffix("-latest").split("-20")[0])
    if budget is None or most is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= most:
        return f"The thinking_budget parameter must be a positive integer and not greater than {most}"
    return None


def search_wanted(model: str, params: dict[str, Any]) -> bool:
    base = model.removesuffix("-latest").split("-20")[0]
    return params.get("enable_search") is True and base in SEARCH_MODELS


def reasoning(seed: int, wanted_tokens: int, budget: Any) -> list[Piece]:
    """Whole thoughts picked by `seed` until `wanted_tokens`, cut at `thinking_budget` tokens."""
    rng = random.Random(seed ^ 0x5EED)
    out: list[Piece] = []
    total = 0
    while total < wanted_tokens:
        thought = _THOUGHT_PIECES[rng.randrange(len(_THOUGHT_PIECES))]
        out.extend(thought)
        total += sum(n for _, n in thought)
    if isinstance(budget, int) and not isinstance(budget, bool):  # checked: 0 < budget <= MAX_REASONING
        kept, used = [], 0
        for piece, n in out:
            if used + n > budget:
                break
            kept.append((piece, n))
            used += n
        out = kept
    return out


def sources(question: str) -> list[dict[str, Any]]:
    """Three results for `question`, the same every time."""
    seed = zlib.crc32(question.encode())
    topic = " ".join(question.split()[:6])[:60] or "search"
    out = []
    for index in range(1, 4):
        site, base = _SITES[(seed + index) % len(_SITES)]
        slug = f"{seed % 100000}-{index}"
        out.append(
            {
                "index": index,
                "title": f"{topic} — {site} ({index})",
                "url": f"{base}{slug}",
                "site_name": site,
                "icon": "",
            }
        )
    return out


def cite(pieces: list[Piece], count: int, citation_format: Any) -> list[Piece]:
    """The answer with a citation of result i after its i-th sentence (or at the end)."""
    fmt = citation_format if isinstance(citation_format, str) and "<number>" in citation_format else "[<number>]"
    out: list[Piece] = []
    cited = 0
    for piece, n in pieces:
        out.append((piece, n))
        if cited < count and piece.rstrip().endswith((".", "。", "!", "！")):
            cited += 1
            out.append((fmt.replace("<number>", str(cited)), 0))
    while cited < count:
        cited += 1
        out.append((fmt.replace("<number>", str(cited)), 0))
    return tokens.pieces("".join(p for p, _ in out))  # retokenized: the pieces are exactly the text's tokens


@dataclass
class PrefixCache:
    """Hashes of message prefixes seen per model, least recently used dropped first.

    A prefix's key is Python's hash of the previous key with the message's role and text: ~0.4 µs a
    message, where a SHA-256 of the prefix cost ~2 µs (a 50-message call spent ~0.1 ms here, a fifth
    of the fake's CPU in a burst of turns). Two prefixes sharing a 64-bit key would report a cache
    hit that was not; the keys live only in this process, so string hashing's per-process seed is
    no matter."""

    _seen: OrderedDict[int, None] = field(default_factory=OrderedDict)

    def lookup_and_store(self, model: str, messages: list[tuple[str, str]]) -> int:
        """Cached input tokens for this call; then remember every prefix of it."""
        key = hash(model)
        cached = used = 0
        keys = []
        last = len(messages) - 1
        for index, (role, content) in enumerate(messages):
            key = hash((key, role, content))
            keys.append(key)
            used += tokens.count(content) + tokens.PER_MESSAGE
            if index < last and key in self._seen:
                cached = used
                self._seen.move_to_end(key)
        for key in keys:
            self._seen[key] = None
        while len(self._seen) > _CACHE_ENTRIES:
            self._seen.popitem(last=False)
        return cached if cached >= CACHE_MIN_TOKENS else 0

    def clear(self) -> None:
        self._seen.clear()
