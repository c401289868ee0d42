"""The prompt of a claimed question: its role's system prompt and settings, the session's model and
thinking switch, its history and the question, through prompt.build_prompt. A pure function of the
claim (and the files read for it), so a prompt built before the claim returns (worker/early.py) is
the same prompt, byte for byte, whenever the claim agrees with what it was built from."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from core.settings import LlmSettings
from worker import attachments, plan_check
from worker.histories import HistoryItem
from worker.llm import ChatMessage
from worker.models import Catalog
from worker.prompt import Prompt, build_prompt
from worker.store import Claim

# When the question's role, the session's and the built-in `assistant` are all gone or inactive.
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
CHECKPOINT_EVERY = 4
_REQUESTS_OWN = ("response_format", "prefix")


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
        if items and items[0].context:  # the path's root is a request's question: what it brought first
            system_prompt, brought = _brought(system_prompt, items[0].context)
            history = brought + history
            checkpoints = [_stable_checkpoint(m) for m in brought] + checkpoints
    else:  # an OpenAI-compatible request: its own messages, its system ones after the role's prompt
        system_prompt, history = _brought(system_prompt, claim.context)
        checkpoints = [_stable_checkpoint(m) for m in history]
    return build_prompt(
        system_prompt=system_prompt or DEFAULT_SYSTEM_PROMPT,
        # a request's own over the role's; JSON mode and words to continue are a request's alone (a role's
        # would hold every chat to them)
        personality={**{k: v for k, v in claim.personality.items() if k not in _REQUESTS_OWN}, **claim.parameters},
        history=history,
        user_message=claim.question if question is None else question,
        settings=llm,
        needs_vision=images > 0,
        question_images=images,
        checkpoints=checkpoints,
        history_cut=claim.history_cut,
        models=catalog.models,
        session_model=claim.session_model,
        thinking=claim.thinking_switch,
        web_search=claim.web_search,
        allowed_models=plan_check.models_of(claim),
        role=claim.role_slug,
    )


def _brought(system_prompt: str | None, context: tuple[dict[str, str], ...]) -> tuple[str | None, list[ChatMessage]]:
    """An OpenAI-compatible request's messages: its system ones after the role's prompt, the rest
    as the history above its question."""
    told = [m["content"] for m in context if m["role"] == "system"]
    turns = [
        ChatMessage("user" if m["role"] == "user" else "assistant", m["content"])
        for m in context
        if m["role"] != "system"
    ]
    return "\n\n".join(p for p in (system_prompt, *told) if p) or None, turns


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


def _stable_checkpoint(message: ChatMessage) -> bool:
    """Where a request's messages may be cut (they have no ids: their text chooses, so a client
    that sends its growing conversation again keeps its cuts)."""
    return message.role == "user" and _stable_quarter(message.content)


def _stable_quarter(text: str) -> bool:
    """True for about one text in four, the same one every time."""
    return zlib.crc32(text.encode()) % CHECKPOINT_EVERY == 0
