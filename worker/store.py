"""The worker's three SQL functions (migrations/..._worker_claims.sql), called as service_role
on the worker's own Postgres pool (database.py), and the claim a turn is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from worker.database import WorkerDatabase


class HistoryItem(msgspec.Struct, frozen=True, gc=False):
    """One message of the path above a question. Never tracked by the cyclic collector (it holds
    strings and its files' JSON, so it cannot be part of a cycle): a claim carries dozens, and at
    load tens of thousands of them in flight made every collection of the oldest generation longer."""

    type: str  # "user" | "assistant"
    content: str
    id: str = ""
    attachments: tuple[dict[str, Any], ...] = ()  # an earlier question's files (worker/attachments.py)


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
    web_search: bool = False  # the question asked for web search
    session_model: str | None = None  # the session's chosen model (None: the role's, else the deployment's)
    session_thinking: bool | None = None  # the session's thinking switch (None: the role's default)
    attachments: tuple[dict[str, Any], ...] = ()  # the question's files (worker/attachments.py)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Claim:
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
            history=tuple(
                HistoryItem(h["type"], h["content"], str(h.get("id") or ""), tuple(h.get("attachments") or ()))
                for h in row["history"]
            ),
            web_search=bool(row.get("web_search")),
            # the model the question asked for (the OpenAI-compatible API; checked against the plan)
            session_model=row.get("model") or session.get("model"),
            session_thinking=session.get("thinking"),
            attachments=tuple(row.get("attachments") or ()),
        )


class Store:
    def __init__(self, db: WorkerDatabase, worker_id: str, lease_seconds: float) -> None:
        self._db = db
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds

    async def claim(self, message_ids: list[str], max_attempts: int, history_limit: int) -> list[Claim]:
        rows = await self._db.claim(message_ids, self.worker_id, self.lease_seconds, max_attempts, history_limit)
        return [Claim.from_row(row) for row in rows]

    async def flush(self, updates: list[dict[str, Any]]) -> dict[str, bool]:
        """Write the batch; returns {row id: cancel_requested} for the rows this worker still holds."""
        return await self._db.flush(self.worker_id, self.lease_seconds, updates)

    async def sweep(self, lookback_seconds: float, max_results: int) -> list[str]:
        return await self._db.sweep(lookback_seconds, max_results)
