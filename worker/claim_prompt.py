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
    system_prompt = claim.system_prompt
    if claim.context is None:
        items = list(reversed(claim.history))
        history = [_history_message(item, (earlier or {}).get(item.id)) for item in items]
        checkpoints = [_checkpoint(item) for item in items]
    else:  # an OpenAI-compatible request: its own messages, its system ones after the role's prompt
        told = [m["content"] for m in claim.context if m["role"] == "system"]
        system_prompt = "\n\n".join(p for p in (system_prompt, *told) if p) or None
        history = [
            ChatMessage("user" if m["role"] == "user" else "assistant", m["content"])
            for m in claim.context
            if m["role"] != "system"
        ]
        checkpoints = [m.role == "user" and _stable_quarter(m.content) for m in history]
    return build_prompt(
        system_prompt=system_prompt or DEFAULT_SYSTEM_PROMPT,
        personality={**claim.personality, **claim.parameters},  # a request's own over the role's
        history=history,
        user_message=claim.question if question is None else question,
        settings=llm,
        needs_vision=images > 0,
        question_images=images,
        checkpoints=checkpoints,
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
    return item.type == "user" and _stable_quarter(item.id)


def _stable_quarter(text: str) -> bool:
    """True for about one text in four, the same one every time (a request's messages have no ids:
    their text chooses, so a client that sends its growing conversation again keeps its cuts)."""
    return zlib.crc32(text.encode()) % CHECKPOINT_EVERY == 0
