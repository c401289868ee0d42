"""Building the message list for one answer within the model's token budget.

budget = min(model max input, context - reserved max_tokens) x (1 - margin), counted with the
bundled Qwen tokenizer plus ChatML overhead (content + 5 per message, + 3 for the assistant primer).
The system prompt and the new user message are always sent (an oversize one is truncated); history
is added newest to oldest while it fits, so what does not fit is the oldest part of the conversation.

Context caching: DashScope bills a prompt prefix it has seen before at a fraction of the price, so
turn N+1's prompt must begin with turn N's byte for byte. Nothing time-varying is ever added, and
when the history must be cut, the cut may only fall on a `checkpoint` (the turn marks a stable
quarter of the questions by their ids): the kept window then stays put for several turns and moves
in one step, instead of sliding by one message (a new prefix) every turn. With no checkpoint in the
window the tightest cut is taken.

The model is the session's choice, else the role's, else the deployment's; its limits come from
the `models` table (worker/models.py), else LLM_MODEL_LIMITS. Thinking and search are sent only to
models that offer them; thinking off is said too (`enable_thinking: false`), as open-source Qwen3
models think unless told not to.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from core.settings import LlmSettings, ModelLimits
from worker.llm import tokens
from worker.llm.base import ChatMessage, GenerationParams
from worker.models import ModelInfo

log = logging.getLogger(__name__)

# For a model missing from LLM_MODEL_LIMITS: small enough to be safe on any Qwen deployment.
FALLBACK_LIMITS = ModelLimits(context=32768, max_input=30720, max_output=8192)

# DashScope takes a seed in [0, 2^31 - 1] (both protocols); a role row stored before the database
# checked it may hold another, which is dropped rather than refused by the model.
Seed = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Budget = Annotated[int, msgspec.Meta(ge=1)]  # DashScope refuses a thinking_budget of 0 or less


class Personality(msgspec.Struct, frozen=True, kw_only=True):
    """The generation settings a role keeps in `ai_roles.personality` (other keys are ignored)."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: Seed | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    enable_search: bool | None = None
    search_strategy: str | None = None  # DashScope's search_options: "turbo", "max", "standard"
    forced_search: bool | None = None
    thinking: bool | None = None
    thinking_budget: Budget | None = None
    response_format: Literal["json_object"] | None = None  # a /v1 request's JSON mode
    prefix: str | None = None  # a /v1 request's last assistant words, which the answer continues


# Sources numbered as the answer cites them, "[1]" (the web app links each number to its source).
SEARCH_OPTIONS = {"enable_source": True, "enable_citation": True, "citation_format": "[<number>]"}


def parse_personality(raw: Mapping[str, Any]) -> Personality:
    """Known keys with usable values; a bad value is dropped rather than failing the answer."""
    known = {name: raw[name] for name in Personality.__struct_fields__ if name in raw}
    if isinstance(known.get("stop"), str):
        known["stop"] = [known["stop"]]
    valid: dict[str, Any] = {}
    for name, value in known.items():
        try:
            msgspec.convert({name: value}, Personality)
        except msgspec.ValidationError:
            continue
        valid[name] = value
    return msgspec.convert(valid, Personality)


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[ChatMessage]
    params: GenerationParams
    input_tokens: int  # our ChatML count of `messages`
    budget: int
    dropped: int  # history messages left out, oldest first
    image_tokens: int = 0  # of `input_tokens`, the images' (IMAGE_TOKENS each): weighed apart when charged


def budget_for(limits: ModelLimits, max_tokens: int, margin: float) -> int:
    return int(min(limits.max_input, limits.context - max_tokens) * (1.0 - margin))


# What one image costs at most on Qwen-VL (1,280 patches of 28x28 pixels + 2 markers; fakescope/vision.py).
IMAGE_TOKENS = 1282
IMAGE_PATCH = 28  # Qwen2/2.5-VL's patch; Qwen3-VL's is 32, so a count by 28 is never below a model's own


def image_cost(width: int, height: int) -> int:
    """What the model counts for an image of these dimensions (its question's record): one token a
    patch, rounded up, at least 4 and at most 1,280, and 2 markers; IMAGE_TOKENS when it says none.
    Charged for an answer that ends before the model said its own count (worker/turn.py)."""
    if width <= 0 or height <= 0:
        return IMAGE_TOKENS
    patches = math.ceil(width / IMAGE_PATCH) * math.ceil(height / IMAGE_PATCH)
    return min(IMAGE_TOKENS, max(4, patches) + 2)


def _cost(content: str) -> int:
    return tokens.count(content) + tokens.PER_MESSAGE


def _message_cost(message: ChatMessage) -> int:
    """A history message: its text, and its images (an earlier question's) at their most."""
    return _cost(message.content) + IMAGE_TOKENS * len(message.images)


def choose_model(
    personality: Mapping[str, Any],
    settings: LlmSettings,
    models: Mapping[str, ModelInfo] | None,
    session_model: str | None,
    needs_vision: bool,
    *,
    allowed: Sequence[str] | None = None,
) -> tuple[str, ModelInfo | None]:
    """The session's model, else the role's, else the deployment's; instead of one without vision when
    the question has images, LLM_VISION_MODEL, or when the plan's models (`allowed`, None: every
    model) leave it out, the first of them that sees (LLM_VISION_MODEL still when none does: the
    turn refuses that, worker/turn.py)."""
    model = session_model or parse_personality(personality).model or settings.default_model
    info = (models or {}).get(model)
    if needs_vision and not (info is not None and info.vision):
        model = settings.vision_model
        if allowed is not None and model not in allowed:
            model = next((m for m in allowed if (seen := (models or {}).get(m)) is not None and seen.vision), model)
        info = (models or {}).get(model)
    return model, info


def build_prompt(
    *,
    system_prompt: str,
    personality: Mapping[str, Any],
    history: Sequence[ChatMessage],
    user_message: str,
    settings: LlmSettings,
    checkpoints: Sequence[bool] | None = None,
    models: Mapping[str, ModelInfo] | None = None,
    session_model: str | None = None,
    thinking: bool | None = None,
    web_search: bool = False,
    needs_vision: bool = False,
    question_images: int = 0,
    history_cut: bool = False,
    allowed_models: Sequence[str] | None = None,
    role: str | None = None,
) -> Prompt:
    """Messages and parameters for answering `user_message`; `history` is oldest to newest.

    `checkpoints[i]` says whether the kept history may start at `history[i]` (default: anywhere);
    `history_cut`: older messages were left out before this (the claim's WORKER_HISTORY_LIMIT), so
    the history starts on a checkpoint even when it all fits, or the window would move every turn;
    `thinking` None means the role's default. `needs_vision`: the question has images, so a model
    without vision gives way to LLM_VISION_MODEL (or the first of `allowed_models`, the plan's, that
    sees); `question_images` of them take their room (IMAGE_TOKENS each) before any history."""
    persona = parse_personality(personality)
    model, info = choose_model(personality, settings, models, session_model, needs_vision, allowed=allowed_models)
    limits = info.limits if info is not None else settings.model_limits.get(model, FALLBACK_LIMITS)
    max_tokens = min(persona.max_tokens or limits.max_output, limits.max_output)
    budget = budget_for(limits, max_tokens, settings.prompt_margin)

    # words to continue are kept whole: an oversize question yields to them as to the system prompt
    continued = [ChatMessage("assistant", persona.prefix, partial=True)] if persona.prefix else []
    reserved = sum(_cost(m.content) for m in continued)
    system, user = _fit_fixed(system_prompt, user_message, budget - reserved)
    used = _cost(system) + _cost(user) + tokens.PRIMER + IMAGE_TOKENS * question_images + reserved
    start = len(history)
    for index in range(len(history) - 1, -1, -1):
        cost = _message_cost(history[index])
        if used + cost > budget:
            break
        used += cost
        start = index
    # Cut only on a checkpoint, so the prefix holds across turns.
    if (start > 0 or history_cut) and checkpoints is not None:
        later = next((i for i in range(start, len(history)) if checkpoints[i]), start)
        used -= sum(_message_cost(m) for m in history[start:later])
        start = later
    kept = list(history[start:])

    # DashScope's JSON mode is not taken with thinking ("thinking mode does not support structured
    # output", Model Studio's JSON-mode page): a request's JSON mode answers without it
    # DashScope wants "json" said in a system or user message (Model Studio's structured-output page),
    # an assistant's (an earlier answer, the words to continue) not counted: until 12-05 they were,
    # and such a prompt was refused
    json_mode = persona.response_format == "json_object"
    said = (system, user, *(m.content for m in kept if m.role in ("system", "user")))
    if json_mode and not any("json" in text.lower() for text in said):
        system, user, used = _say_json(system, user, kept, used, budget=budget, question_images=question_images)
    # nor partial mode (Model Studio's partial-mode page: non-thinking only)
    think = False if json_mode or continued else persona.thinking if thinking is None else thinking
    search = web_search or bool(persona.enable_search)
    offers_search = info.search if info is not None else bool(persona.enable_search)

    params = GenerationParams(
        model=model,
        temperature=persona.temperature,
        top_p=persona.top_p,
        top_k=persona.top_k,
        max_tokens=max_tokens,
        seed=persona.seed,
        stop=persona.stop,
        presence_penalty=persona.presence_penalty,
        repetition_penalty=persona.repetition_penalty,
        enable_search=True if search and offers_search else None,
        search_options=_search_options(persona, json_mode) if search and offers_search else None,
        enable_thinking=_enable_thinking(bool(think), info),
        thinking_budget=_thinking_budget(persona, info, role) if think and info is not None and info.thinking else None,
        response_format={"type": "json_object"} if json_mode else None,
        multimodal=needs_vision or _multimodal_only(model, info, settings) or any(m.images for m in kept),
    )
    messages = [ChatMessage("system", system), *kept, ChatMessage("user", user), *continued]
    images = question_images + sum(len(m.images) for m in kept)
    return Prompt(messages, params, used, budget, len(history) - len(kept), IMAGE_TOKENS * images)


def _multimodal_only(model: str, info: ModelInfo | None, settings: LlmSettings) -> bool:
    """Whether DashScope answers `model` only on the multimodal endpoint: as the `models` table says,
    else (a model it does not list, or before it has loaded) as LLM_MULTIMODAL_MODELS does; the
    wrong endpoint answers "url error, please check url！"."""
    return info.multimodal if info is not None else settings.multimodal_only(model)


def _enable_thinking(think: bool, info: ModelInfo | None) -> bool | None:
    """The switch, said either way to a model that has it: open-source Qwen3 models (and Qwen3.5)
    think unless told not to, where commercial ones do not unless told to. Not sent to a model
    without the switch, or one the `models` table does not list."""
    if info is None or not info.thinking:
        return None
    return think


def _thinking_budget(persona: Personality, info: ModelInfo, role: str | None) -> int | None:
    """The role's (or request's) budget, cut to the model's longest chain of thought: DashScope refuses
    a longer one ("not greater than ...") and would fail the answer. The database saves a role's only
    within its model's, and admission a request's within the answering model's; a chat's own model,
    or a limit lowered since, may still take less, so the cut stays, said at WARNING (`role`: the
    role's slug, None for none)."""
    budget = persona.thinking_budget
    if budget is None or info.max_reasoning is None or budget <= info.max_reasoning:
        return budget
    log.warning(
        "thinking budget %d of role %s cut to %d, the longest chain of thought of %s",
        budget,
        role or "(none)",
        info.max_reasoning,
        info.id,
    )
    return info.max_reasoning


def _search_options(persona: Personality, json_mode: bool) -> dict[str, Any]:
    """Sources and citations always, but for JSON mode: its answer is one JSON object, and DashScope's
    "[n]" markers would be text outside it (the fake's come after it) or inside its values; its
    sources are kept all the same. The strategy and the forced switch when asked for."""
    asked = {"search_strategy": persona.search_strategy, "forced_search": persona.forced_search}
    options = {"enable_source": True} if json_mode else SEARCH_OPTIONS
    return options | {name: value for name, value in asked.items() if value is not None}


# DashScope refuses JSON mode on messages that never say "json" (as OpenAI does): said after the
# system prompt when the messages that said it were left out (the oldest turns, or a cut prompt)
JSON_NOTE = "\n\nAnswer with a JSON object."


def _say_json(
    system: str, user: str, kept: list[ChatMessage], used: int, *, budget: int, question_images: int
) -> tuple[str, str, int]:
    """The system prompt with JSON_NOTE, its room made by leaving out the oldest of `kept` (changed in
    place), or by cutting the system prompt and question further; the tokens now used."""
    note = _cost(system + JSON_NOTE) - _cost(system)
    while kept and used + note > budget:
        used -= _message_cost(kept.pop(0))
    if used + note > budget:  # the system prompt and question alone fill it: cut for the note (and a seam)
        system, user = _fit_fixed(system, user, budget - tokens.count(JSON_NOTE) - 1)
        used = _cost(system + JSON_NOTE) + _cost(user) + tokens.PRIMER + IMAGE_TOKENS * question_images
        return system + JSON_NOTE, user, used
    return system + JSON_NOTE, user, used + note


def _fit_fixed(system_prompt: str, user_message: str, budget: int) -> tuple[str, str]:
    """Truncate the system prompt and/or user message so both fit; the user message yields first,
    but the system prompt never keeps more than half the room when both are oversize."""
    room = budget - tokens.PRIMER - 2 * tokens.PER_MESSAGE
    system_tokens, user_tokens = tokens.count(system_prompt), tokens.count(user_message)
    if system_tokens + user_tokens <= room:
        return system_prompt, user_message
    system_keep = min(system_tokens, max(room // 2, room - user_tokens))
    return tokens.truncate(system_prompt, system_keep), tokens.truncate(user_message, room - system_keep)
