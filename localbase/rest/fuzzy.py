"""The "Perhaps you meant ..." matcher PostgREST uses for its hints: fuzzyset 0.2 (Haskell).

A port of its algorithm, so a hint names the same candidate PostgREST's would: entries and the
query are lower-cased; each is split into character n-grams (n = 3, then 2 when 3 finds nothing)
of its normalized form (letters, digits, spaces and commas kept) enclosed in `-`; candidates are
ranked by the cosine of their n-gram counts, the best 50 re-ranked by normalized Levenshtein
similarity, and a match needs a score of at least 0.33. An exact (case-insensitive) entry wins.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

_MIN_SCORE = 0.33
_GRAM_SIZES = (3, 2)


def _normalized(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace() or c == ",")


def _grams(text: str, size: int) -> Counter[str]:
    padded = f"-{_normalized(text)}-"
    return Counter(padded[i : i + size] for i in range(len(padded) - size + 1))


def _levenshtein_similarity(a: str, b: str) -> float:
    """1 - distance / longer length (text-metrics' levenshteinNorm)."""
    if not a and not b:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / max(len(a), len(b))


class FuzzySet:
    def __init__(self, entries: Iterable[str]) -> None:
        self._exact: dict[str, str] = {}
        for entry in entries:
            self._exact.setdefault(entry.lower(), entry)

    def get(self, query: str) -> list[tuple[float, str]]:
        """Matches scoring at least 0.33, best first."""
        key = query.lower()
        if key in self._exact:
            return [(1.0, self._exact[key])]
        for size in _GRAM_SIZES:
            wanted = _grams(key, size)
            wanted_norm = math.sqrt(sum(n * n for n in wanted.values()))
            cosine: list[tuple[float, str]] = []
            for entry in self._exact:
                grams = _grams(entry, size)
                dot = sum(n * grams[g] for g, n in wanted.items() if g in grams)
                if dot:
                    norm = math.sqrt(sum(n * n for n in grams.values()))
                    cosine.append((dot / (wanted_norm * norm), entry))
            cosine.sort(key=lambda pair: -pair[0])
            ranked = [(_levenshtein_similarity(key, entry), entry) for _, entry in cosine[:50]]
            ranked.sort(key=lambda pair: -pair[0])
            found = [(score, self._exact[entry]) for score, entry in ranked if score >= _MIN_SCORE]
            if found:
                return found
        return []

    def get_one(self, query: str) -> str | None:
        found = self.get(query)
        return found[0][1] if found else None
