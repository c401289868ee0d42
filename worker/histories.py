"""The history a worker keeps from each session's last claim, so the next claim walks only the new
part of the path (migrations/..._claim_resumes_kept_history.sql).

A claim's history is the path above its question: user messages and completed answers, nearest
first, at most `limit` of them, found within 2 x `limit` + 1 messages up the path. What is kept for
a session is the history of its last claimed question that could be kept (its `tip`), with the depth of each item on the
path and the session's `history_epoch` read in the same snapshot. The next claim names the tip and
the epoch; when Postgres finds the tip on the new path and the epoch unchanged (nothing deleted,
refused or edited in the session since), the walk stops there and reports the tip's depth,
and `join` puts the kept items below the walked ones, deeper by that much, cut exactly where the
whole walk would have cut.

Kept only when that is sound: not a history whose walk met an answer still in flight (it may
complete and join later histories without changing the epoch) or a question still under a
question (it moves under that question's answer when that is claimed), nor one with files (their
ETags are read in every claim), nor anything when `limit` is 0. A claim whose history is not kept
leaves the session's last kept one in place: it still holds, and the next claim's walk stops there.
An OpenAI-compatible request's messages ride on its question's item (`context`) from the claim
whose walk reached that question, so a resumed claim keeps them as long as the question is in
the history. What is kept is bounded by size, the least recently claimed session leaving first. One event loop
uses it: no locking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from prometheus_client import Counter

from worker.kept import Kept

_ITEM_OVERHEAD = 120  # bytes a kept item costs beyond its text, roughly


class HistoryItem(msgspec.Struct, frozen=True, gc=False):
    """One message of the path above a question. Never tracked by the cyclic collector (it holds
    strings and its files' JSON, so it cannot be part of a cycle): a claim carries dozens, and at
    load tens of thousands of them in flight made every collection of the oldest generation longer."""

    type: str  # "user" | "assistant"
    content: str
    id: str = ""
    attachments: tuple[dict[str, Any], ...] = ()  # an earlier question's files (worker/attachments.py)
    # The messages an OpenAI-compatible request brought above its question (a root), {role, content}
    context: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Walked:
    """The history a claim row carries (`worker_claim`'s columns), nearest first, as parallel lists:
    lists of strings cost the garbage collector nothing, where an object per item made a claim
    round of hundreds of questions trigger dozens of collections."""

    ids: Sequence[str]
    types: Sequence[str]  # "user" | "assistant"
    contents: Sequence[str]
    depths: Sequence[int]
    files: Sequence[str | None]  # an earlier question's files as JSON text, or None


@dataclass(frozen=True, slots=True)
class History:
    """A question's history, nearest first, with each item's depth on the path."""

    tip: str  # the question
    epoch: int  # the session's history_epoch in the snapshot the history was read from
    items: tuple[HistoryItem, ...]
    depths: tuple[int, ...]


def _size(history: History) -> int:
    return sum(
        len(item.content) + _ITEM_OVERHEAD + sum(len(m["content"]) + _ITEM_OVERHEAD for m in item.context)
        for item in history.items
    )


class Histories:
    def __init__(self, limit: int, max_bytes: int, resumed: Counter | None = None) -> None:
        self.limit = limit
        self._kept: Kept[str, History] = Kept(max_bytes, _size)
        self._resumed = resumed

    def kept(self, session_id: str | None) -> History | None:
        """What the next claim in `session_id` may resume from."""
        if session_id is None:
            return None
        history = self._kept.get(session_id)
        if history is not None:
            self._kept.used(session_id)
        return history

    def join(self, row: dict[str, Any], resumed: History | None) -> tuple[HistoryItem, ...]:
        """The question's whole history from its claim row (see store.Claim.from_row), given
        `resumed`, the history named in the claim for this question; it is kept for the next."""
        walked: Walked = row["history"]
        items = [
            HistoryItem(kind, content, item_id, tuple(msgspec.json.decode(files)) if files else ())
            for item_id, kind, content, files in zip(
                walked.ids, walked.types, walked.contents, walked.files, strict=True
            )
        ]
        depths = list(walked.depths)
        root = row.get("root")
        if root is not None:  # the walk reached a request's question, which brought these messages
            items = [
                msgspec.structs.replace(item, context=tuple(root["context"])) if item.id == root["id"] else item
                for item in items
            ]
        at = row.get("resumed_at")
        if at is not None:
            if resumed is None:
                raise ValueError("the claim resumed a history that was not named")
            if self._resumed is not None:
                self._resumed.inc()
            self._extend(items, depths, resumed, at)
        history = History(row["reply_to"], int(row["epoch"]), tuple(items), tuple(depths))
        session_id = row["session_id"]
        if self.limit > 0 and row.get("settled") and not any(item.attachments for item in items):
            self._kept.put(session_id, history)
        elif (kept := self._kept.get(session_id)) is not None and kept.epoch != history.epoch:
            self._kept.drop(session_id)  # no claim can resume it any more
        # Otherwise what was kept stays: it still holds, and a later question's walk stops at it
        # (a run of questions queued under answers in flight walks back to the last settled one).
        return history.items

    def following(self, session_id: str, question: HistoryItem, answer: HistoryItem) -> tuple[HistoryItem, ...] | None:
        """The history a question asked right under `answer`, the completed answer to `question`, will
        be given by its claim, when the history kept for the session is `question`'s: the two of them,
        then what is kept, cut as `join` cuts. None when something else is kept (the claim will say)."""
        kept = self._kept.get(session_id)
        if kept is None or kept.tip != question.id:
            return None
        items, depths = [answer, question][: self.limit], [1, 2][: self.limit]
        self._extend(items, depths, kept, 2)
        return tuple(items)

    def _extend(self, items: list[HistoryItem], depths: list[int], resumed: History, at: int) -> None:
        """Put `resumed`'s items below `items`, `at` deeper, up to `limit` items found within 2 x
        `limit` + 1 messages (where the whole walk would have stopped)."""
        deepest = 2 * self.limit + 1
        for item, depth in zip(resumed.items, resumed.depths, strict=True):
            if len(items) >= self.limit or depth + at > deepest:
                break
            items.append(item)
            depths.append(depth + at)
