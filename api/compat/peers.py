"""What the chat clients our users bring ask for in shapes of their own, read as the DashScope keys
they mean before the request is checked (parameters.py): each is the same ask as a key honoured
here, said the way another provider takes it. A shape that asks for something else is refused,
saying what to send instead; never read otherwise than its client meant it.

- `thinking: {type, budget_tokens}` (Anthropic's shape): LobeChat sends it through any
  OpenAI-compatible provider for a model whose card has a reasoning switch, qwen ids among them
  (lobehub/lobe-chat src/services/chat/mecha/modelParamsResolver.ts); only its own Qwen provider
  turns it into enable_thinking / thinking_budget (providers/qwen/index.ts), as it is read here.
- `reasoning: {effort, enabled, max_tokens, exclude}` (OpenRouter's shape): Cherry Studio sends it
  (CherryHQ/cherry-studio src/renderer/src/aiCore/utils/reasoning.ts getReasoningEffort: an
  effort, `{enabled: true}`, or `{enabled: false, exclude: true}` for thinking off), and so do
  Open WebUI's builds that turn reasoning_effort into it; its effort is OpenAI's reasoning_effort.
- `chat_template_kwargs: {enable_thinking}`: Qwen's own deployment pages for vLLM and SGLang switch
  Qwen3's thinking with its chat template's argument (qwen.readthedocs.io deployment/vllm.html), as
  scripts written against a local Qwen do; it is DashScope's enable_thinking.

And Ollama's options, which Open WebUI sends to an OpenAI connection when they are set among its
advanced parameters (open-webui/open-webui backend/open_webui/utils/middleware.py
apply_params_to_form_data copies every one set): refused `unknown_parameter`, as OpenAI would,
each message saying what to send instead or to clear it there.
"""

from __future__ import annotations

import json
from typing import Any

from api.compat.errors import OpenAIError, bad_request
from api.compat.parameters import EFFORT_BUDGETS, MAX_THINKING_BUDGET, budget_too_large

_CLEAR = "clear it in the client's advanced parameters"
_OLLAMA = f"It is an Ollama option Qwen has no counterpart for: {_CLEAR}."
_OLLAMA_HINTS: dict[str, str] = {
    "min_p": f"Qwen samples by top_p and top_k and has no min_p: send those, or {_CLEAR}.",
    "typical_p": f"Qwen samples by top_p and top_k and has no typical_p: send those, or {_CLEAR}.",
    "repeat_penalty": (
        "It is Ollama's name for DashScope's repetition_penalty: send that (in Open WebUI a custom"
        f" parameter), or {_CLEAR}."
    ),
    "num_predict": "It is Ollama's name for max_tokens: send max_tokens.",
    "think": "It is Ollama's thinking switch: send enable_thinking (or reasoning_effort).",
    "format": "It is Ollama's: send response_format {\"type\": \"json_object\"}.",
    **{
        name: _OLLAMA
        for name in (
            "mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "repeat_last_n", "penalize_newline",
            "num_ctx", "num_batch", "num_keep", "num_gpu", "main_gpu", "num_thread", "numa", "low_vram",
            "vocab_only", "use_mmap", "use_mlock", "keep_alive",
        )
    },
}  # fmt: skip


def _budget(value: Any, where: str, param: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_THINKING_BUDGET:
        raise budget_too_large(where, value, param)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THINKING_BUDGET:
        raise bad_request(
            f"{where} must be an integer from 1 to {MAX_THINKING_BUDGET} (DashScope's thinking_budget).",
            param,
            "invalid_value",
        )
    return value


def _anthropic_thinking(value: Any) -> dict[str, Any]:
    """`thinking: {type: "enabled", budget_tokens?}` thinks (within the budget), `{type: "disabled"}`
    does not; the budget LobeChat sends beside thinking off (0) asks nothing."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("enabled", "disabled") or not set(value) <= {"type", "budget_tokens"}:
        raise bad_request(
            'thinking must be {"type": "enabled", "budget_tokens": <tokens>} or {"type": "disabled"}'
            " (or send DashScope's enable_thinking and thinking_budget).",
            "thinking",
            "invalid_value",
        )
    if kind == "disabled":
        return {"enable_thinking": False}
    budget = value.get("budget_tokens")
    if budget is None:
        return {"enable_thinking": True}
    return {"enable_thinking": True, "thinking_budget": _budget(budget, "thinking.budget_tokens", "thinking")}


def _unsupported(why: str) -> OpenAIError:
    return bad_request(f"reasoning.{why}", "reasoning", "unsupported_parameter")


def _openrouter_reasoning(value: Any) -> dict[str, Any]:
    """An effort is OpenAI's reasoning_effort; `enabled` switches thinking, `max_tokens` is its
    budget. The reasoning of a thinking answer always comes back whole (reasoning_content): asked
    to leave it out (`exclude`) or for a summary of it (`summary`, OpenAI's Responses API), the
    request is refused; with thinking off there is nothing to leave out."""
    if not isinstance(value, dict):
        raise bad_request(
            'reasoning must be an object: {"effort": "low"}, {"enabled": true} or {"max_tokens": <tokens>}.',
            "reasoning",
            "invalid_value",
        )
    other = sorted(set(value) - {"effort", "enabled", "max_tokens", "exclude", "summary"})
    if other:
        raise _unsupported(f"{other[0]} cannot be set here.")
    if value.get("summary") is not None:
        raise _unsupported("summary: the reasoning comes whole as reasoning_content, never summarised; leave it out.")
    keys: dict[str, Any] = {}
    effort = value.get("effort")
    if effort is not None:
        if not isinstance(effort, str) or effort not in EFFORT_BUDGETS:
            raise bad_request(
                f"reasoning.effort must be one of {', '.join(EFFORT_BUDGETS)}.", "reasoning", "invalid_value"
            )
        keys["reasoning_effort"] = effort
    for flag in ("enabled", "exclude"):
        if value.get(flag) is not None and not isinstance(value[flag], bool):
            raise bad_request(f"reasoning.{flag} must be true or false.", "reasoning", "invalid_value")
    if value.get("enabled") is not None:
        keys["enable_thinking"] = value["enabled"]
    if value.get("max_tokens") is not None:
        keys["thinking_budget"] = _budget(value["max_tokens"], "reasoning.max_tokens", "reasoning")
        keys.setdefault("enable_thinking", True)
    thinks = keys.get("enable_thinking", None if effort is None else EFFORT_BUDGETS[effort][0])
    if value.get("exclude") is True and thinks is not False:
        raise _unsupported(
            "exclude: a thinking answer's reasoning always comes back (reasoning_content); leave exclude out,"
            " or switch thinking off (enabled: false)."
        )
    return keys


def _template_arguments(value: Any) -> dict[str, Any]:
    """Qwen3's chat template switch; the template here is DashScope's, which takes no other."""
    if not isinstance(value, dict):
        raise bad_request(
            'chat_template_kwargs must be an object, e.g. {"enable_thinking": false}.',
            "chat_template_kwargs",
            "invalid_value",
        )
    other = sorted(set(value) - {"enable_thinking"})
    if other:
        raise bad_request(
            f"chat_template_kwargs.{other[0]} cannot be set here: the chat template is DashScope's, and only"
            " enable_thinking is read (send DashScope's keys, e.g. thinking_budget, at the top level).",
            "chat_template_kwargs",
            "unsupported_parameter",
        )
    thinking = value.get("enable_thinking")
    if thinking is None:
        return {}
    if not isinstance(thinking, bool):
        raise bad_request(
            "chat_template_kwargs.enable_thinking must be true or false.", "chat_template_kwargs", "invalid_value"
        )
    return {"enable_thinking": thinking}


def budget_source(body: dict[str, Any]) -> tuple[str, str]:
    """Where the request's thinking budget comes from, before its shapes are read: the key to name
    in a refusal of it (the answering model thinks less, ThinkingBudgetTooLarge) and the name it was
    said under. DashScope's thinking_budget decides, then a shape's budget, then an effort's."""
    thinking, reasoning = body.get("thinking"), body.get("reasoning")
    if body.get("thinking_budget") is not None:
        return "thinking_budget", "thinking_budget"
    if isinstance(thinking, dict) and thinking.get("budget_tokens") is not None:
        return "thinking", "thinking.budget_tokens"
    if isinstance(reasoning, dict) and reasoning.get("max_tokens") is not None:
        return "reasoning", "reasoning.max_tokens"
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        return "reasoning", "reasoning.effort"
    if body.get("reasoning_effort") is not None:
        return "reasoning_effort", "reasoning_effort"
    return "thinking_budget", "thinking_budget"


def read_peer_shapes(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each peer shape replaced by the DashScope keys it means. Said beside one of those
    keys with another value, which was meant is unknown: refused, the shape named."""
    for name, hint in _OLLAMA_HINTS.items():
        if body.get(name) is not None:  # null asks for nothing, as for any key
            raise bad_request(f"Unknown parameter: '{name}'. {hint}", name, "unknown_parameter")
    asked: list[tuple[str, dict[str, Any]]] = []
    if body.get("thinking") is not None:
        asked.append(("thinking", _anthropic_thinking(body["thinking"])))
    if body.get("reasoning") is not None:
        asked.append(("reasoning", _openrouter_reasoning(body["reasoning"])))
    if body.get("chat_template_kwargs") is not None:
        asked.append(("chat_template_kwargs", _template_arguments(body["chat_template_kwargs"])))
    if not asked:
        return body
    merged = {name: value for name, value in body.items() if name not in dict(asked)}
    for shape, keys in asked:
        for name, value in keys.items():
            said = merged.get(name)
            if said is not None and said != value:
                raise bad_request(
                    f"{shape} asks for {name} {json.dumps(value)}, but {name} is sent as {json.dumps(said)} beside it.",
                    shape,
                    "invalid_value",
                )
            merged[name] = value
    return merged
