"""Session titles: after the first answer of a session, a short title in the conversation's
language, from one cheap model call (LLM_TITLE_MODEL) made off the answer's path.

Guarantees: never delays or fails a turn (the call runs as a task of its own after the answer
is final, and any failure is only logged); never overwrites a title (the database stores it only
into a session whose title is still null, migrations/..._session_titles.sql); at most one call
per first answer, and none when the session already has a title. The call's tokens are charged
to the session's owner (`worker_charge_title`: a settled ledger row at the model's weights, once
per session, folded into the plan's counters like an answer's), whether or not the title is
stored: the tokens were spent either way. Refuses nothing else.
"""

from __future__ import annotations

import asyncio
import logging

from core.settings import LlmSettings
from worker.database import WorkerDatabase
from worker.llm import ChatMessage, Finished, GenerationParams, Provider, TextDelta
from worker.store import Claim

log = logging.getLogger(__name__)

INSTRUCTION = (
    "Write a short title (at most 8 words) for the conversation below, in the language the user writes in. "
    "Reply with the title only, without quotes or punctuation at the end."
)
_MAX_TOKENS = 32
_MAX_CHARS = 80  # of the title kept
_ANSWER_CHARS = 1000  # of the answer shown to the model


class Titler:
    def __init__(self, provider: Provider, db: WorkerDatabase, llm: LlmSettings) -> None:
        self._provider = provider
        self._db = db
        self._model = llm.title_model or llm.default_model
        self._multimodal = llm.multimodal_only(self._model)  # a natively multimodal title model
        self._tasks: set[asyncio.Task[None]] = set()

    def after_answer(self, claim: Claim, answer: str) -> None:
        """Title the session if this was its first answer (a root question's answer 1)."""
        if claim.answer_no != 1 or claim.history or not answer:
            return
        task = asyncio.create_task(self._title(claim, answer), name=f"title-{claim.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _title(self, claim: Claim, answer: str) -> None:
        try:
            if not await self._db.title_needed(claim.session_id):
                return
            text, usage = await self._ask(claim.question, answer)
            if usage is not None:
                await self._db.charge_title(
                    claim.session_id,
                    usage.model or self._model,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.reasoning_tokens,
                )
            title = clean(text)
            if title:
                await self._db.set_title(claim.session_id, title)
        except Exception as exc:  # a title is a nicety: never let it disturb anything
            log.warning("title not generated", extra={"session_id": claim.session_id, "error": repr(exc)})

    async def _ask(self, question: str, answer: str) -> tuple[str, Finished | None]:
        messages = [
            ChatMessage("system", INSTRUCTION),
            ChatMessage("user", question),
            ChatMessage("assistant", answer[:_ANSWER_CHARS]),
        ]
        parts: list[str] = []
        params = GenerationParams(model=self._model, max_tokens=_MAX_TOKENS, multimodal=self._multimodal)
        async for event in self._provider.stream(messages, params):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Finished):
                return "".join(parts), event
        return "".join(parts), None


def clean(text: str) -> str:
    """One line, no wrapping quotes or trailing full stop, at most _MAX_CHARS characters."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = line.strip("\"'“”‘’「」《》。.!！")
    return line[:_MAX_CHARS].strip()
