"""An OpenAI-compatible request's parameters, checked: sampling, thinking, JSON mode and web search
(request.py checks the messages and files). Each is kept as the worker's call takes it (the
question's `parameters`, checked again by question_parameters_valid); what Qwen cannot honour is
refused with OpenAI's error shape, never ignored."""

from __future__ import annotations

from typing import Any

from api.compat.errors import OpenAIError, bad_request

# DashScope takes a seed in [0, 2^31 - 1]: its compatible mode refuses a larger one (error-code page,
# 400 invalid_request_error / invalid_value) and its API reference gives that range for both protocols.
MAX_SEED = 2**31 - 1

# DashScope refuses a thinking_budget of 0 or less or past the model's longest chain of thought; the
# longest any offered model is known to take (public.models.max_reasoning, as question_parameters_valid
# checks it); admission refuses one past the answering model's own (ThinkingBudgetTooLarge).
MAX_THINKING_BUDGET = 38_912


def _kind(value: Any) -> str:
    """A JSON value's kind as OpenAI's refusals name it ("but got a string instead")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object" if isinstance(value, dict) else "a number"


def _number(
    body: dict[str, Any],
    name: str,
    low: float,
    high: float,
    *,
    integer: bool = False,
    openai: tuple[float | None, float | None] | None = None,
) -> float | None:
    """The number `name` in [low, high] (Qwen's range), or None when unset. `openai`: the range
    OpenAI's API takes (None for DashScope's own parameters): a value past it, or of the wrong type,
    is refused as OpenAI refuses it (`integer_below_min_value`, `decimal_above_max_value`, ...,
    `invalid_type`), one inside it that Qwen does not take as `invalid_value`, as OpenAI refuses a
    model's own limit (max_tokens too large)."""
    value = body.get(name)
    if value is None:
        return None
    kind = int if integer else (int, float)
    typed = not isinstance(value, bool) and isinstance(value, kind)
    if openai is not None:
        word = "integer" if integer else "decimal"
        if not typed:
            raise bad_request(
                f"Invalid type for '{name}': expected {'an integer' if integer else 'a decimal'},"
                f" but got {_kind(value)} instead.",
                name,
                "invalid_type",
            )
        least, most = openai
        below, above = least is not None and value < least, most is not None and value > most
        if below or above:
            side, bound = ("below minimum", f">= {least:g}") if below else ("above maximum", f"<= {most:g}")
            raise bad_request(
                f"Invalid '{name}': {word} {side} value. Expected a value {bound}, but got {value} instead.",
                name,
                f"{word}_{'below_min' if below else 'above_max'}_value",
            )
    if not typed or not low <= value <= high:
        span = f"an integer from {low:g} to {high:g}" if integer else f"a number from {low:g} to {high:g}"
        raise bad_request(f"{name} must be {span}.", name, "invalid_value")
    return float(value) if isinstance(value, float) else int(value)


def budget_too_large(name: str, budget: int, param: str) -> OpenAIError:
    """A thinking budget past the longest any model here thinks, worded as admission words one past
    the answering model's own (ThinkingBudgetTooLarge), saying what to do: a client that sets it from
    a reasoning effort (Cherry Studio: the model's longest thought by DashScope's page times the
    effort's share) asks less at a lower effort."""
    return bad_request(
        f"{name} is too large: {budget}. A model here thinks at most {MAX_THINKING_BUDGET} tokens, whereas you"
        f" provided {budget}: ask for at most {MAX_THINKING_BUDGET} (in a client that sets it from a reasoning"
        " effort, choose a lower reasoning effort).",
        param,
        "invalid_value",
    )


def _unsupported(name: str, why: str) -> OpenAIError:
    return bad_request(f"{name}: {why}", name, "unsupported_parameter")


# OpenAI's reasoning_effort as thinking and its budget, as LiteLLM maps it onto budgeted thinking
# models (low 1,024, medium 2,048, high 4,096); the SDK's xhigh twice high's, its max the model's own
# longest (no budget of its own: DashScope's default is the model's longest chain of thought). That
# one is kept as a budget of null: said, it goes over a role's own budget as any the request sets
# (until 12-06 it said nothing, and a `role:<slug>` with a budget thought with the role's)
EFFORT_BUDGETS: dict[str, tuple[bool, int | None]] = {
    "none": (False, None),
    "minimal": (False, None),
    "low": (True, 1024),
    "medium": (True, 2048),
    "high": (True, 4096),
    "xhigh": (True, 8192),
    "max": (True, None),
}


def _thinking(body: dict[str, Any]) -> dict[str, Any]:
    """Deep thinking as DashScope's OpenAI-compatible mode takes it (`enable_thinking`,
    `thinking_budget`), or as OpenAI's reasoning models do (`reasoning_effort`), which the first two
    override; the plan decides (FeatureNotAllowed)."""
    found: dict[str, Any] = {}
    effort = body.get("reasoning_effort")
    if effort is not None:
        if not isinstance(effort, str) or effort not in EFFORT_BUDGETS:  # a list or object is no key
            raise bad_request(
                f"reasoning_effort must be one of {', '.join(EFFORT_BUDGETS)}.", "reasoning_effort", "invalid_value"
            )
        thinks, tokens = EFFORT_BUDGETS[effort]
        found["thinking"] = thinks
        if thinks:
            found["thinking_budget"] = tokens
    thinking = body.get("enable_thinking")
    if thinking is not None and not isinstance(thinking, bool):
        raise bad_request("enable_thinking must be true or false.", "enable_thinking", "invalid_value")
    if thinking is not None:
        found["thinking"] = thinking
    if thinking is False and body.get("thinking_budget") == 0 and not isinstance(body["thinking_budget"], bool):
        # LobeChat's Qwen provider sends a budget of 0 beside thinking off (no budget for no
        # thinking): it asks nothing, so nothing is kept (a budget is from 1 when thinking)
        found.pop("thinking_budget", None)
        return found
    budget = body.get("thinking_budget")
    if isinstance(budget, int) and not isinstance(budget, bool) and budget > MAX_THINKING_BUDGET:
        raise budget_too_large("thinking_budget", budget, "thinking_budget")
    budget = _number(body, "thinking_budget", 1, MAX_THINKING_BUDGET, integer=True)
    if budget is not None:
        found["thinking_budget"] = budget
    return found


def parse_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters the model is asked with (over the role's settings), in DashScope's
    ranges; what we cannot honour is refused rather than ignored."""
    found: dict[str, Any] = {}
    temperature = _number(body, "temperature", 0, 2, openai=(0, 2))
    if temperature is not None:
        found["temperature"] = min(temperature, 1.99)  # DashScope takes [0, 2)
    top_p = _number(body, "top_p", 0, 1, openai=(0, 1))
    if top_p is not None:
        if top_p == 0:
            raise bad_request("top_p must be above 0.", "top_p", "invalid_value")
        found["top_p"] = top_p
    presence = _number(body, "presence_penalty", -2, 2, openai=(-2, 2))
    if presence is not None:
        found["presence_penalty"] = presence
    # max_completion_tokens goes over max_tokens; both are checked when both are sent
    tokens = _number(body, "max_completion_tokens", 1, 1_000_000, integer=True, openai=(1, None))
    legacy = _number(body, "max_tokens", 1, 1_000_000, integer=True, openai=(1, None))
    tokens = legacy if tokens is None else tokens
    if tokens is not None:
        found["max_tokens"] = tokens
    seed = _number(body, "seed", 0, MAX_SEED, integer=True, openai=(None, None))
    if seed is not None:
        found["seed"] = seed
    # DashScope's own, as its compatible mode takes them (extra_body)
    top_k = _number(body, "top_k", 0, 100, integer=True)
    if top_k is not None:
        found["top_k"] = top_k
    repetition = _number(body, "repetition_penalty", 0, 10)
    if repetition is not None:
        if repetition == 0:
            raise bad_request("repetition_penalty must be above 0.", "repetition_penalty", "invalid_value")
        found["repetition_penalty"] = repetition
    found |= _thinking(body)
    stop = body.get("stop")
    listed = isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) and s for s in stop)
    if not (stop is None or isinstance(stop, str) or listed):
        raise bad_request("stop must be a string or an array of at most 4 strings.", "stop", "invalid_value")
    if any("\x00" in s for s in ([stop] if isinstance(stop, str) else stop or ())):
        raise bad_request("stop strings must not contain NUL (\\u0000).", "stop", "invalid_value")
    if stop:  # an empty string or array stops nothing
        found["stop"] = stop
    if _number(body, "frequency_penalty", -2, 2, openai=(-2, 2)) not in (None, 0):
        raise _unsupported("frequency_penalty", "Qwen has no frequency penalty; use presence_penalty.")
    # n outside 1 to 128 (or not an integer) is a value no API takes, refused as OpenAI does; 2 to
    # 128 is a real request for several choices, which Qwen here does not give
    if _number(body, "n", 1, 128, integer=True, openai=(1, 128)) not in (None, 1):
        raise _unsupported("n", "one choice per request.")
    if body.get("tools") or body.get("functions"):
        raise _unsupported("tools", "tools and function calls are not supported.")
    for choice in ("tool_choice", "function_call"):  # a call asked for; "none" and "auto" call nothing here
        if body.get(choice) not in (None, "none", "auto"):
            raise _unsupported(choice, "tools and function calls are not supported.")
    _number(body, "top_logprobs", 0, 20, integer=True, openai=(0, 20))  # OpenAI's range first, as for n
    if body.get("logprobs") or body.get("top_logprobs") is not None or body.get("logit_bias"):
        raise _unsupported("logprobs", "log probabilities and logit bias are not supported.")
    modalities = body.get("modalities")
    if body.get("audio") is not None or (modalities is not None and modalities != ["text"]):
        raise _unsupported("modalities", "only text answers.")
    found |= _response_format(body.get("response_format"), found)
    return found


def _response_format(value: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Plain text, or DashScope's JSON mode (`json_object`), which it takes without deep thinking
    only (Model Studio's JSON-mode page); a JSON schema is refused."""
    if value is None or value == {"type": "text"}:
        return {}
    if value != {"type": "json_object"}:
        raise _unsupported("response_format", "plain text or json_object answers only.")
    if found.get("thinking") is True:
        raise _unsupported("response_format", "json_object answers are given without deep thinking.")
    return {"response_format": "json_object"}


JSON_NOT_ASKED = "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."


_SEARCH_STRATEGIES = ("turbo", "max", "standard")  # as question_parameters_valid takes them
# DashScope's deeper search by the name it had before `max` (its strategies were standard and pro,
# now turbo and max): LobeChat's Qwen provider sends it (QWEN_SEARCH_STRATEGY, "standard or pro"),
# and so do DashScope's compatible-mode examples copied into scripts. Asked, and kept, as `max`.
_STRATEGY_NAMES = {"pro": "max"}


CITATION_FORMAT = "[<number>]"  # DashScope's default, the one every search here asks for


def parse_search(body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether to search the web, and how: DashScope's `enable_search` with `search_options`, or
    OpenAI's `web_search_options` (an object, even empty, asks for a search; its location and
    context size are OpenAI's own and refused)."""
    enabled = body.get("enable_search")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad_request("enable_search must be true or false.", "enable_search", "invalid_value")
    openai_style = body.get("web_search_options")
    if openai_style is not None:
        if not isinstance(openai_style, dict):
            raise bad_request("web_search_options must be an object.", "web_search_options", "invalid_value")
        if openai_style:
            raise _unsupported("web_search_options", f"{', '.join(sorted(openai_style))} cannot be set here.")
    options = body.get("search_options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise bad_request("search_options must be an object.", "search_options", "invalid_value")
    found: dict[str, Any] = {}
    for name, value in options.items():
        if name == "search_strategy":
            strategy = _STRATEGY_NAMES.get(value, value) if isinstance(value, str) else value
            if strategy not in _SEARCH_STRATEGIES:
                raise bad_request(
                    f"search_options.search_strategy must be one of {', '.join(_SEARCH_STRATEGIES)} or pro"
                    " (DashScope's agent strategies are not offered here).",
                    "search_options",
                    "invalid_value",
                )
            found["search_strategy"] = strategy
        elif name == "forced_search":
            if not isinstance(value, bool):
                raise bad_request(
                    "search_options.forced_search must be true or false.", "search_options", "invalid_value"
                )
            found["forced_search"] = value
        elif (name in ("enable_source", "enable_citation") and value is True) or (
            name == "citation_format" and value == CITATION_FORMAT
        ):
            continue  # what every search here does: sources kept, cited as [n]
        else:
            raise _unsupported("search_options", f"{name} cannot be set here.")
    search = bool(enabled) or openai_style is not None
    return search, found if search else {}


# Every top-level key a request may send: OpenAI's Chat Completions parameters (those honoured, those
# refused when asked for above, and those that change nothing here) and DashScope's compatible-mode
# keys honoured here. Any other is refused as OpenAI refuses it, not ignored: a misspelt max_tokens
# answered as if it had not been sent (until 12-05).
_HONOURED = frozenset(
    {
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "presence_penalty",
        "frequency_penalty", "max_tokens", "max_completion_tokens", "seed", "stop", "n", "response_format",
        "reasoning_effort", "web_search_options", "tools", "functions", "tool_choice", "function_call",
        "logprobs", "top_logprobs", "logit_bias", "modalities", "audio",
        # DashScope's own (extra_body)
        "enable_thinking", "thinking_budget", "top_k", "repetition_penalty", "enable_search", "search_options",
    }
)  # fmt: skip
# OpenAI's that change nothing here, with the type OpenAI checks: an end user's id (user, its
# successor safety_identifier), the answer's metadata and storing (every answer is stored in the
# history), the service tier, the prompt cache's key (DashScope caches by prefix on its own), parallel
# tool calls (no tools are called), a predicted output (a speed-up, never the answer's words) and the
# prompt cache's options. `verbosity` (but its default) and `moderation` are refused as unsupported.
_TAKEN: dict[str, tuple[type, str]] = {
    "user": (str, "a string"),
    "safety_identifier": (str, "a string"),
    "prompt_cache_key": (str, "a string"),
    "service_tier": (str, "a string"),
    "metadata": (dict, "an object"),
    "store": (bool, "a boolean"),
    "parallel_tool_calls": (bool, "a boolean"),
    "prediction": (dict, "an object"),
    "prompt_cache_options": (dict, "an object"),
    "prompt_cache_retention": (str, "a string"),
}


# DashScope's native keys, which scripts moved over from dashscope.Generation.call keep sending: the
# value that asks for what is done here anyway is taken, another refused as unsupported (they were
# unknown_parameter until 12-05, as if DashScope did not document them).
_DASHSCOPE_AS_DONE: dict[str, tuple[Any, str]] = {
    # every answer is OpenAI's chat message, never DashScope's bare text
    "result_format": ("message", "answers come as chat messages (result_format message) only."),
    # every stream chunk carries the new words only, as OpenAI's do
    "incremental_output": (True, "stream chunks carry the new words only (incremental_output true)."),
    # images are read at DashScope's default resolution, and counted and charged at it
    "vl_high_resolution_images": (False, "images are read at the default resolution only."),
}


def unwrap_extra_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body with a key `extra_body` read as its keys: the Node SDK has no extra_body, so a Python
    example's `extra_body={...}` copied into it is sent as a key of that name (DashScope's web-search
    page: with the Node SDK those keys go at the top level); the Python SDK merges them so. A key
    said both there and at the top level with another value is refused: which was meant is unknown."""
    inner = body.get("extra_body")
    if inner is None:
        return body
    if not isinstance(inner, dict):
        raise bad_request(
            "extra_body must be an object (its keys are read as the request's).", "extra_body", "invalid_value"
        )
    merged = {name: value for name, value in body.items() if name != "extra_body"}
    for name, value in inner.items():
        if name in merged and merged[name] is not None and value is not None and merged[name] != value:
            raise bad_request(
                f"{name} is sent both in extra_body and beside it, with another value.", name, "invalid_value"
            )
        if value is not None or name not in merged:
            merged[name] = value
    return merged


def check_keys(body: dict[str, Any]) -> None:
    """Refuse a key no API documents for this call (`unknown_parameter`), and one of OpenAI's that
    change nothing here when its value has the wrong type (`invalid_type`), as OpenAI does."""
    for name, value in body.items():
        if name in _HONOURED or value is None:  # null asks for nothing: clients serialise unset options so
            continue
        if name == "verbosity":  # OpenAI's default, what Qwen answers at, is the one taken
            if value != "medium":
                raise _unsupported(name, "answers at the default verbosity (medium) only.")
            continue
        if name == "moderation":
            raise _unsupported(name, "no moderation model is run on requests here.")
        if name in _DASHSCOPE_AS_DONE:
            done, why = _DASHSCOPE_AS_DONE[name]
            if value != done or type(value) is not type(done):
                raise _unsupported(name, why)
            continue
        taken = _TAKEN.get(name)
        if taken is None:
            raise bad_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        kind, said = taken
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise bad_request(
                f"Invalid type for '{name}': expected {said}, but got {_kind(value)} instead.", name, "invalid_type"
            )
