"""The worker's three SQL functions (migrations/..._worker_claims.sql), called as service_role
on the worker's own Postgres pool (database.py), and the claim a turn is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker.database import Flushed, WorkerDatabase
from worker.histories import Histories, History, HistoryItem


@dataclass(frozen=True)
class Claim:
    """A won lease on one question's assistant row, with what the turn needs to answer it."""

    id: str  # the assistant row
    reply_to: str  # the user message
    attempts: int
    answer_no: int  # which answer to the question (regenerations count up from 1)
    session_id: str
    user_id: str
    question: str
    role_slug: str | None
    system_prompt: str | None
    personality: dict[str, Any]
    history: tuple[HistoryItem, ...]  # the path above the question, newest first
    history_cut: bool  # the history holds WORKER_HISTORY_LIMIT messages: older ones were left out
    web_search: bool = False  # the question asked for web search
    session_model: str | None = None  # the session's chosen model (None: the role's, else the deployment's)
    session_thinking: bool | None = None  # the session's thinking switch (None: the role's default)
    attachments: tuple[dict[str, Any], ...] = ()  # the question's files (worker/attachments.py)
    # An OpenAI-compatible request's messages before its question ({role, content}): its history
    # instead of the session's (the question is a root, so `history` is empty). None for the rest.
    context: tuple[dict[str, str], ...] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # such a request's sampling parameters
    # the user's plan when the answer was admitted ({models, thinking, search}; worker/plan_check.py)
    plan: dict[str, Any] | None = None

    @property
    def thinking_switch(self) -> bool | None:
        """The session's thinking switch, unless the question's own request said whether to think (a
        /v1 request continuing a web chat: its `thinking` goes over the chat's switch as over its
        role's default; until 12-06 the switch won, and reasoning_effort asked there was dropped)."""
        return None if isinstance(self.parameters.get("thinking"), bool) else self.session_thinking

    @classmethod
    def from_row(cls, row: dict[str, Any], history: tuple[HistoryItem, ...], history_cut: bool) -> Claim:
        """`history`: the row's, joined with the one the worker kept (worker/histories.py); `history_cut`:
        it holds WORKER_HISTORY_LIMIT messages."""
        role = row.get("role") or {}
        session = row.get("session") or {}
        return cls(
            id=row["id"],
            reply_to=row["reply_to"],
            attempts=int(row["attempts"]),
            answer_no=int(row.get("answer_no") or 1),
            session_id=row["session_id"],
            user_id=row["user_id"],
            question=row["question"],
            role_slug=role.get("slug"),
            system_prompt=role.get("system_prompt"),
            personality=dict(role.get("personality") or {}),
            history=history,
            history_cut=history_cut,
            web_search=bool(row.get("web_search")),
            # the model the question asked for (the OpenAI-compatible API; checked against the plan)
            session_model=row.get("model") or session.get("model"),
            session_thinking=session.get("thinking"),
            attachments=tuple(row.get("attachments") or ()),
            context=None if row.get("context") is None else tuple(row["context"]),
            parameters=dict(row.get("parameters") or {}),
            plan=row.get("plan"),
        )


class Store:
    def __init__(self, db: WorkerDatabase, worker_id: str, lease_seconds: float, histories: Histories) -> None:
        self._db = db
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._histories = histories

    async def claim(self, offered: dict[str, str | None], max_attempts: int) -> list[Claim]:
        """Claim the offered message ids (each with its session, when known); the history kept for
        a question's session is named, and the claim resumes from it when it still holds."""
        named: dict[str, History] = {}
        for message_id, session_id in offered.items():
            history = self._histories.kept(session_id)
            if history is not None:
                named[message_id] = history
        rows = await self._db.claim(
            list(offered),
            self.worker_id,
            self.lease_seconds,
            max_attempts,
            self._histories.limit,
            tips=[named[m].tip if m in named else None for m in offered],
            epochs=[named[m].epoch if m in named else None for m in offered],
        )
        claims = []
        for row in rows:
            items = self._histories.join(row, named.get(row["reply_to"]))
            claims.append(Claim.from_row(row, items, len(items) >= self._histories.limit))
        return claims

    async def flush(self, updates: list[dict[str, Any]]) -> dict[str, Flushed]:
        """Write the batch; returns the rows this worker still holds (their cancel_requested), and
        those its finishes ended (how they ended), by id."""
        return await self._db.flush(self.worker_id, self.lease_seconds, updates)

    async def sweep(self, lookback_seconds: float, max_results: int) -> list[str]:
        return await self._db.sweep(lookback_seconds, max_results)
