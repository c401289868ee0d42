"""The prompt of a claimed question: its role's system prompt and settings, the session's model and
thinking switch, its history and the question, through prompt.build_prompt. A pure function of the
claim (and the files read for it), so a prompt built before the claim returns (worker/early.py) is
the same prompt, byte for byte, whenever the claim agrees with what it was built from."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from core.settings import LlmSettings
from worker import attachments
from worker.histories import HistoryItem
from worker.llm import ChatMessage
from worker.models import Catalog
from worker.prompt import Prompt, build_prompt
from worker.store import Claim

# When the question's role, the session's and the built-in `assistant` are all gone or inactive.
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
CHECKPOINT_EVERY = 4


def claim_prompt(
    claim: Claim,
    llm: LlmSettings,
    catalog: Catalog,
    *,
    question: str | None = None,
    images: int = 0,
    earlier: Mapping[str, attachments.Earlier] | None = None,
) -> Prompt:
    """`images`: how many the question carries; `earlier`: the files of earlier questions (by id), put
    back on them as they were first sent."""
    items = list(reversed(claim.history))
    history = [_history_message(item, (earlier or {}).get(item.id)) for item in items]
    return build_prompt(
        system_prompt=claim.system_prompt or DEFAULT_SYSTEM_PROMPT,
        personality=claim.personality,
        history=history,
        user_message=claim.question if question is None else question,
        settings=llm,
        needs_vision=images > 0,
        question_images=images,
        checkpoints=[_checkpoint(item) for item in items],
        history_cut=claim.history_cut,
        models=catalog.models,
        session_model=claim.session_model,
        thinking=claim.session_thinking,
        web_search=claim.web_search,
    )


def _history_message(item: HistoryItem, files: attachments.Earlier | None) -> ChatMessage:
    if item.type != "user":
        return ChatMessage("assistant", item.content)
    if files is None:
        return ChatMessage("user", item.content)
    return ChatMessage("user", attachments.with_documents(item.content, files.texts), images=tuple(files.images))


def _checkpoint(item: HistoryItem) -> bool:
    """Where a cut history may start: about one question in four, chosen by its id, so the choice
    is the same on every later turn (prompt.py, context caching)."""
    return item.type == "user" and zlib.crc32(item.id.encode()) % CHECKPOINT_EVERY == 0
