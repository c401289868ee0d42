"""Prompt building: the budget formula, what is always kept, and what is dropped first."""

from __future__ import annotations

import logging
import sys
from contextlib import aclosing
from dataclasses import replace
from unittest.mock import patch

import pytest

from core.settings import LlmSettings, ModelLimits
from fakescope.server import FakeScope
from tests.worker.conftest import generator
from worker import plan_check
from worker.claim_prompt import claim_prompt
from worker.llm import ChatMessage, Finished, tokens
from worker.llm.base import Role
from worker.llm.dashscope import DashScopeProvider
from worker.models import Catalog, ModelInfo
from worker.prompt import FALLBACK_LIMITS, IMAGE_TOKENS, Prompt, budget_for, build_prompt, parse_personality
from worker.store import Claim

TINY = LlmSettings(default_model="tiny", model_limits={"tiny": ModelLimits(context=400, max_input=300, max_output=100)})
SYSTEM = "You are a helpful assistant."


def _history(n: int) -> list[ChatMessage]:
    roles: tuple[Role, Role] = ("user", "assistant")
    return [ChatMessage(roles[i % 2], f"message number {i} says something fairly ordinary") for i in range(n)]


def _build(history: list[ChatMessage], user: str = "hi", personality: dict[str, object] | None = None) -> object:
    return build_prompt(
        system_prompt=SYSTEM, personality=personality or {}, history=history, user_message=user, settings=TINY
    )


def _claim(**fields: object) -> Claim:
    """A claim of a web chat with its thinking switch on, no role, no history: `fields` change it."""
    plain = Claim(
        id="a",
        reply_to="q",
        attempts=0,
        answer_no=1,
        session_id="s",
        user_id="u",
        question="hi",
        role_slug=None,
        system_prompt=None,
        personality={},
        history=(),
        history_cut=False,
        session_thinking=True,
    )
    return replace(plain, **fields)  # type: ignore[arg-type]


def test_budget_formula() -> None:
    assert budget_for(ModelLimits(400, 300, 100), max_tokens=100, margin=0.05) == 285  # min(300, 300) * 0.95
    assert budget_for(ModelLimits(400, 350, 100), max_tokens=100, margin=0.05) == 285  # context - reserve binds
    qwen_turbo = LlmSettings().model_limits["qwen-turbo"]
    assert budget_for(qwen_turbo, max_tokens=16384, margin=0.05) == int(98304 * 0.95)


def test_short_history_is_kept_whole_and_in_order() -> None:
    history = _history(4)
    prompt = build_prompt(system_prompt=SYSTEM, personality={}, history=history, user_message="hi", settings=TINY)
    assert prompt.messages == [ChatMessage("system", SYSTEM), *history, ChatMessage("user", "hi")]
    assert prompt.dropped == 0
    assert prompt.input_tokens == tokens.chat_tokens(m.content for m in prompt.messages)


def test_history_beyond_the_budget_is_dropped_oldest_first() -> None:
    history = _history(40)
    prompt = build_prompt(system_prompt=SYSTEM, personality={}, history=history, user_message="hi", settings=TINY)
    kept = prompt.messages[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept == history[-len(kept) :]  # the newest, contiguous
    assert prompt.dropped == len(history) - len(kept)
    assert prompt.input_tokens <= prompt.budget == 285
    one_more = tokens.count(history[-len(kept) - 1].content) + tokens.PER_MESSAGE
    assert prompt.input_tokens + one_more > prompt.budget  # nothing that fitted was left out


def test_oversize_user_message_is_truncated_and_system_kept() -> None:
    long_question = "why is the sky blue " * 200
    prompt = build_prompt(
        system_prompt=SYSTEM, personality={}, history=_history(6), user_message=long_question, settings=TINY
    )
    assert prompt.messages[0] == ChatMessage("system", SYSTEM)
    assert prompt.messages[-1].role == "user"
    assert long_question.startswith(prompt.messages[-1].content)
    assert len(prompt.messages[-1].content) < len(long_question)
    assert prompt.dropped == 6
    assert prompt.input_tokens <= prompt.budget


def test_oversize_system_and_user_share_the_room() -> None:
    prompt = build_prompt(
        system_prompt="rule " * 1000, personality={}, history=[], user_message="word " * 1000, settings=TINY
    )
    system, user = prompt.messages
    room = prompt.budget - tokens.PRIMER - 2 * tokens.PER_MESSAGE
    assert tokens.count(system.content) <= room // 2
    assert tokens.count(user.content) > 0
    assert prompt.input_tokens <= prompt.budget


def test_personality_sets_parameters_and_reserve() -> None:
    personality = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 40, "stop": "END", "tone": "cheerful"}
    prompt = build_prompt(system_prompt=SYSTEM, personality=personality, history=[], user_message="hi", settings=TINY)
    params = prompt.params
    assert (params.model, params.temperature, params.top_p, params.max_tokens) == ("tiny", 0.2, 0.9, 40)
    assert params.stop == ("END",)
    assert prompt.budget == int(min(300, 400 - 40) * 0.95)


def test_bad_personality_values_are_dropped() -> None:
    persona = parse_personality({"temperature": "hot", "max_tokens": 50, "model": 7})
    assert (persona.temperature, persona.max_tokens, persona.model) == (None, 50, None)


def test_a_seed_outside_dashscopes_range_is_dropped_and_one_within_it_kept() -> None:
    """DashScope takes a seed in [0, 2^31 - 1] (both protocols); a role stored before the database
    checked it may hold another, which would fail every answer."""
    assert parse_personality({"seed": 2**31}).seed is None
    assert parse_personality({"seed": -1}).seed is None
    assert parse_personality({"seed": 2**31 - 1}).seed == 2**31 - 1


def test_a_thinking_budget_is_cut_to_the_models_longest_chain_of_thought() -> None:
    """DashScope refuses a thinking_budget of 0 or less or past the model's longest chain of thought
    (public.models.max_reasoning): the worker sends neither."""
    thinker = ModelInfo(id="tiny", limits=ModelLimits(400, 300, 100), thinking=True, max_reasoning=100)
    for asked, sent in ((500, 100), (100, 100), (40, 40), (0, None), (-3, None)):
        prompt = build_prompt(
            system_prompt=SYSTEM,
            personality={"thinking": True, "thinking_budget": asked},
            history=[],
            user_message="hi",
            settings=TINY,
            models={"tiny": thinker},
        )
        assert (prompt.params.enable_thinking, prompt.params.thinking_budget) == (True, sent), asked


def test_a_roles_budget_cut_to_the_models_longest_thought_is_logged_with_the_role_and_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database saves a role's budget only within its model's (ai_roles_thinking_budget_within_model),
    but a chat's own model, or a limit lowered since, may still take less: the cut stays as a guard,
    and says so (until 12-06 it said nothing)."""
    thinker = ModelInfo(id="tiny", limits=ModelLimits(400, 300, 100), thinking=True, max_reasoning=100)
    for asked in (500, 40):
        build_prompt(
            system_prompt=SYSTEM,
            personality={"thinking": True, "thinking_budget": asked},
            history=[],
            user_message="hi",
            settings=TINY,
            models={"tiny": thinker},
            role="ponderer",
        )
    said = [r.getMessage() for r in caplog.records if r.name == "worker.prompt" and r.levelno == logging.WARNING]
    assert len(said) == 1, said
    assert all(word in said[0] for word in ("ponderer", "tiny", "500", "100")), said


def test_thinking_off_is_said_to_a_model_with_the_switch_and_nothing_to_one_without() -> None:
    """Open-source Qwen3 models think unless `enable_thinking` is false, so off is sent, not left out."""
    limits = ModelLimits(400, 300, 100)
    table = {
        "thinker": ModelInfo(id="thinker", limits=limits, thinking=True),
        "plain": ModelInfo(id="plain", limits=limits),
    }
    for model, thinking, sent in (
        ("thinker", False, False),
        ("thinker", None, False),
        ("thinker", True, True),
        ("plain", True, None),
        ("plain", False, None),
        ("unlisted", False, None),
    ):
        prompt = build_prompt(
            system_prompt=SYSTEM,
            personality={},
            history=[],
            user_message="hi",
            settings=TINY,
            models=table,
            session_model=model,
            thinking=thinking,
        )
        assert prompt.params.enable_thinking is sent, (model, thinking)


def test_the_endpoint_follows_the_model_even_before_the_models_table_has_loaded() -> None:
    """DashScope answers Qwen3.5 and the VL models only on the multimodal endpoint and text models
    only on the text one ("url error, please check url！"): without the table, LLM_MULTIMODAL_MODELS
    decides, snapshots included; with it, the table does."""
    settings = LlmSettings()
    for model, multimodal in (
        ("qwen3.5-plus", True),
        ("qwen3.5-plus-2026-02-15", True),
        ("qwen-vl-max", True),
        ("qwen-plus", False),
        ("qwen-plus-latest", False),
    ):
        prompt = build_prompt(
            system_prompt=SYSTEM,
            personality={},
            history=[],
            user_message="hi",
            settings=settings,
            models=None,
            session_model=model,
        )
        assert prompt.params.multimodal is multimodal, model
    listed = {"qwen3.5-plus": ModelInfo(id="qwen3.5-plus", limits=ModelLimits(400, 300, 100), multimodal=False)}
    prompt = build_prompt(
        system_prompt=SYSTEM,
        personality={},
        history=[],
        user_message="hi",
        settings=settings,
        models=listed,
        session_model="qwen3.5-plus",
    )
    assert not prompt.params.multimodal


def test_unknown_model_uses_fallback_limits() -> None:
    prompt = build_prompt(
        system_prompt=SYSTEM, personality={"model": "mystery-1"}, history=[], user_message="hi", settings=TINY
    )
    assert prompt.params.model == "mystery-1"
    assert prompt.budget == budget_for(FALLBACK_LIMITS, FALLBACK_LIMITS.max_output, TINY.prompt_margin)


async def test_our_count_is_what_the_service_bills() -> None:
    settings = LlmSettings(default_model="qwen-max")
    long_history = [ChatMessage("user", "历史消息 " * 400 + str(i)) for i in range(60)]
    prompt = build_prompt(
        system_prompt=SYSTEM, personality={}, history=long_history, user_message="继续", settings=settings
    )
    assert prompt.dropped > 0
    async with FakeScope(ttft=0, tokens_per_s=0) as fake:
        llm = DashScopeProvider(base_url=fake.native_url, api_key="sk-test", read_timeout=5, max_connections=1)
        async with aclosing(generator(llm.stream(prompt.messages, prompt.params))) as stream:
            events = [event async for event in stream]
        await llm.aclose()
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.input_tokens == prompt.input_tokens


def test_a_cut_history_keeps_its_prefix_across_turns_by_cutting_on_checkpoints() -> None:
    """Turn after turn, the kept window starts at the same checkpoint until it must move, so each
    prompt begins with the previous one (the provider's context cache applies)."""
    history: list[ChatMessage] = []
    starts, same_prefix = [], 0
    previous: list[ChatMessage] | None = None
    for turn in range(30):
        marks = [i % 8 == 0 for i in range(len(history))]  # every 4th question is a checkpoint
        prompt = build_prompt(
            system_prompt=SYSTEM,
            personality={},
            history=history,
            user_message=f"question {turn}",
            settings=TINY,
            checkpoints=marks,
        )
        kept = prompt.messages[1:-1]
        assert kept == history[len(history) - len(kept) :]
        assert prompt.input_tokens <= prompt.budget
        starts.append(len(history) - len(kept))
        if previous is not None and prompt.messages[: len(previous)] == previous:
            same_prefix += 1
        previous = prompt.messages
        history += [ChatMessage("user", f"question {turn}"), ChatMessage("assistant", f"answer number {turn} " * 3)]
    assert all(s % 8 == 0 for s in starts)  # every cut is on a checkpoint
    assert starts == sorted(starts)
    assert starts[-1] > 0
    assert same_prefix >= 20  # only the turns that move the window lose the prefix


def test_a_history_cut_to_its_count_also_starts_on_a_checkpoint() -> None:
    """The claim fetches at most WORKER_HISTORY_LIMIT messages, so past that many the window moves
    every turn though everything fits the budget: it starts on a checkpoint too, and most prompts
    still begin with the previous one."""
    limit = 12
    history: list[ChatMessage] = []
    starts, same_prefix = [], 0
    previous: list[ChatMessage] | None = None
    for turn in range(30):
        offset = max(0, len(history) - limit)
        window = history[offset:]
        prompt = build_prompt(
            system_prompt=SYSTEM,
            personality={},
            history=window,
            user_message=f"question {turn}",
            settings=LlmSettings(),
            checkpoints=[(offset + i) % 8 == 0 for i in range(len(window))],  # every 4th question
            history_cut=len(window) >= limit,
        )
        kept = prompt.messages[1:-1]
        starts.append(len(history) - len(kept))
        if len(window) >= limit:
            assert starts[-1] % 8 == 0
        if previous is not None and prompt.messages[: len(previous)] == previous:
            same_prefix += 1
        previous = prompt.messages
        history += [ChatMessage("user", f"question {turn}"), ChatMessage("assistant", f"answer {turn}")]
    assert starts[-1] > 0
    assert same_prefix >= 20  # the window moves once every 4 turns, not on each


def test_an_earlier_image_counts_in_the_budget_and_needs_the_multimodal_endpoint() -> None:
    vision = LlmSettings(
        default_model="eyes",
        vision_model="eyes",
        model_limits={"eyes": ModelLimits(context=8000, max_input=2000, max_output=100)},
    )
    older = ChatMessage("user", "the first picture", images=("data:image/png;base64,AAAA",))
    newer = ChatMessage("user", "the second picture", images=("data:image/png;base64,BBBB",))
    history = [older, ChatMessage("assistant", "a cat"), newer, ChatMessage("assistant", "a dog")]
    prompt = build_prompt(system_prompt=SYSTEM, personality={}, history=history, user_message="and?", settings=vision)
    assert prompt.budget == 1900
    assert prompt.messages[1:-1] == history[1:]  # two images (2 x 1,282 tokens) do not fit: the older one leaves
    assert prompt.input_tokens == tokens.chat_tokens(m.content for m in prompt.messages) + IMAGE_TOKENS
    assert prompt.params.multimodal  # a kept message has an image
    text_only = build_prompt(
        system_prompt=SYSTEM, personality={}, history=history[3:], user_message="and?", settings=vision
    )
    assert not text_only.params.multimodal
    with_picture = build_prompt(
        system_prompt=SYSTEM,
        personality={},
        history=history,
        user_message="and this?",
        settings=vision,
        needs_vision=True,
        question_images=1,
    )
    assert with_picture.messages[1:-1] == history[3:]  # the question's own image takes its room first
    assert with_picture.params.multimodal


def test_a_long_texts_count_is_kept_without_keeping_the_text() -> None:
    """Counts are kept for the next turn (history comes back every turn), but a document's text is
    not held by them: the count cache held up to 16,384 texts whole, a question with a 20 MiB
    document's text each, beyond LLM_DOCUMENT_CACHE_MB's bound and never freed while in use."""
    text = "".join(f"line {n} of a long document\n" for n in range(20_000))
    held = sys.getrefcount(text)
    encoded: list[int] = []
    encode = tokens.encode

    def counting(piece: str) -> list[int]:
        encoded.append(len(piece))
        return encode(piece)

    with patch.object(tokens, "encode", counting):
        first = tokens.count(text)
        assert sys.getrefcount(text) == held
        assert tokens.count(text) == tokens.count("".join([text])) == first  # an equal text: kept, not encoded
    assert encoded == [len(text)]
    assert first == len(encode(text))


def test_json_mode_is_a_requests_own_and_answers_without_thinking() -> None:
    """A request's `response_format` (json_object) is sent as DashScope's JSON mode, with thinking off
    (DashScope takes it without); a role's personality holding one is not: it would hold every chat
    of the role to JSON, and the messages of most never say "json"."""
    catalog = Catalog()
    catalog.models["qwen-plus"] = ModelInfo("qwen-plus", FALLBACK_LIMITS, thinking=True, max_reasoning=38912)
    role = _claim(personality={"model": "qwen-plus", "response_format": "json_object"})
    asked = replace(
        role, question="hi in json", personality={"model": "qwen-plus"}, parameters={"response_format": "json_object"}
    )
    llm = LlmSettings()
    by_role = claim_prompt(role, llm, catalog).params
    assert (by_role.response_format, by_role.enable_thinking) == (None, True)
    by_request = claim_prompt(asked, llm, catalog).params
    assert (by_request.response_format, by_request.enable_thinking) == ({"type": "json_object"}, False)
    assert by_request.thinking_budget is None


def test_json_mode_says_json_within_the_budget_when_what_said_it_was_cut() -> None:
    """The question said "json" at its end, past what the budget keeps of it: the prompt still says
    it (DashScope refuses JSON mode otherwise) and stays within the budget; nothing is added when
    what is kept says it."""
    json_mode: dict[str, object] = {"response_format": "json_object"}
    long_question = "word " * 400 + "Reply in json."
    prompt = _build(_history(40), user=long_question, personality=json_mode)
    assert isinstance(prompt, Prompt)
    assert any("json" in m.content.lower() for m in prompt.messages)
    assert prompt.input_tokens <= prompt.budget
    assert prompt.input_tokens == tokens.chat_tokens(m.content for m in prompt.messages)
    said = _build(_history(40), user="Reply in json.", personality=json_mode)
    assert isinstance(said, Prompt)
    assert said.messages[0] == ChatMessage("system", SYSTEM)


def test_words_to_continue_follow_the_question_as_partial_mode_without_thinking() -> None:
    """A request's last assistant words: after the question, `partial`, counted in the budget, and
    never with thinking (partial mode is non-thinking only)."""
    continued: dict[str, object] = {"prefix": "Steam rises", "thinking": True}
    prompt = _build(_history(2), personality=continued)
    assert isinstance(prompt, Prompt)
    assert prompt.messages[-2:] == [ChatMessage("user", "hi"), ChatMessage("assistant", "Steam rises", partial=True)]
    assert prompt.params.enable_thinking is None or prompt.params.enable_thinking is False
    assert prompt.input_tokens == tokens.chat_tokens(m.content for m in prompt.messages)


def test_words_to_continue_keep_their_room_when_the_question_is_cut() -> None:
    """An oversize question yields to the words it is continued with, as it yields to the system
    prompt: the words were added after the question had taken the whole room, past the budget, and
    DashScope refuses such a prompt ("Range of input length")."""
    prefix = "Steam rises slowly over the cup, and the leaves unfold " * 3
    prompt = _build([], user="why is the sky blue " * 200, personality={"prefix": prefix})
    assert isinstance(prompt, Prompt)
    assert prompt.messages[-1] == ChatMessage("assistant", prefix, partial=True)
    assert prompt.messages[-2].role == "user"
    assert prompt.input_tokens == tokens.chat_tokens(m.content for m in prompt.messages)
    assert prompt.input_tokens <= prompt.budget


def test_a_requests_thinking_off_in_a_chat_switched_on_is_no_thinking_outside_the_plan() -> None:
    """A /v1 request continuing a web chat whose switch is on, saying `enable_thinking: false`, on a
    plan without thinking: answered without it, not refused FeatureNotAllowed at the claim."""
    claim = _claim(parameters={"thinking": False}, plan={"models": None, "thinking": False, "search": True})
    assert plan_check.refusal(claim) is None
    assert plan_check.refusal(replace(claim, parameters={})) == "FeatureNotAllowed"  # the switch's, as before
