"""Request checks in the order and wording of the real service, shared by both protocols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.settings import DEFAULT_MODEL_LIMITS, ModelLimits, parse_model_limits
from fakescope import features, partial, tokens
from fakescope.errors import JSON_NOT_ASKED, MODEL_NOT_FOUND, URL_ERROR, ApiError, invalid_parameter, invalid_value

MODELS = parse_model_limits(DEFAULT_MODEL_LIMITS)
# Served only by the multimodal endpoint (MultiModalConversation); every other model only by the text
# one. The wrong native endpoint answers "url error, please check url！" (DashScope's deep-thinking
# page: Qwen3.5 "uses a multimodal interface", Generation.call "returns a url error"; reported as
# 400 InvalidParameter in agentscope-ai/agentscope#1295). Compatible mode serves both kinds.
MULTIMODAL_MODELS = frozenset({"qwen-vl-max", "qwen3-vl-plus", "qwen3.5-plus", "qwen3.5-flash"})
ROLES = frozenset({"system", "user", "assistant", "tool"})
# Both protocols take a seed in [0, 2^31 - 1]: the API reference says so for each, and compatible mode's
# error-code page lists a larger one as 400 invalid_request_error / invalid_value.
MAX_SEED = 2**31 - 1


class Rejected(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class Call:
    """A valid generation request, reduced to what shapes the answer."""

    model: str
    contents: list[str]
    roles: list[str]
    input_tokens: int
    max_tokens: int | None
    stop: tuple[str, ...]
    seed: int | None
    json_mode: bool = False  # response_format json_object: the answer is one JSON object
    partial: bool = False  # partial mode: the last message is an assistant's prefix the answer continues

    @property
    def question(self) -> str:
        """The message the answer answers: the last, or the one before a prefix to continue."""
        at = -2 if self.partial and len(self.contents) > 1 else -1
        return self.contents[at] if self.contents else ""


def limits_of(model: str) -> ModelLimits:
    """Stable names and their dated snapshots (`qwen-plus-2025-07-28`, `qwen-plus-latest`)."""
    found = MODELS.get(model)
    if found is None:
        base = model.removesuffix("-latest").split("-20")[0]
        found = MODELS.get(base)
    if found is None:
        raise Rejected(MODEL_NOT_FOUND)
    return found


def check_endpoint(model: Any, multimodal: bool) -> None:
    """`Rejected` with DashScope's url error when a known model is asked on the native endpoint that
    does not serve it (an unknown one is left to `check`: "Model not exist.")."""
    if not isinstance(model, str) or not model:
        return
    base = model.removesuffix("-latest").split("-20")[0]
    known = model in MODELS or base in MODELS
    if known and (base in MULTIMODAL_MODELS or model in MULTIMODAL_MODELS) != multimodal:
        raise Rejected(URL_ERROR)


def _text(content: Any, parts: bool) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and not parts:  # the text endpoint takes a string only
        raise Rejected(invalid_parameter("input content must be a string."))
    if isinstance(content, list):  # multimodal-style parts: [{"text": "..."}]
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    raise Rejected(invalid_parameter("The content field is a required field."))


def _number(params: dict[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(invalid_parameter(f"Parameter {name} should be a number."))
    return float(value)


def _check_ranges(params: dict[str, Any], limits: ModelLimits) -> None:
    temperature = _number(params, "temperature")
    if temperature is not None and not 0.0 <= temperature < 2.0:
        raise Rejected(invalid_parameter("Temperature should be in [0.0, 2.0)"))
    top_p = _number(params, "top_p")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise Rejected(invalid_parameter("Range of top_p should be (0.0, 1.0]"))
    top_k = _number(params, "top_k")
    if top_k is not None and top_k < 0:
        raise Rejected(invalid_parameter("Parameter top_k be greater than or equal to 0"))
    presence = _number(params, "presence_penalty")
    if presence is not None and not -2.0 <= presence <= 2.0:
        raise Rejected(invalid_parameter("Range of presence_penalty should be [-2.0, 2.0]"))
    repetition = _number(params, "repetition_penalty")
    if repetition is not None and repetition <= 0:
        raise Rejected(invalid_parameter("Repetition_penalty should be greater than 0.0"))
    n = _number(params, "n")
    if n is not None and not 1 <= n <= 4:
        raise Rejected(invalid_parameter("Range of n should be [1, 4]"))
    max_tokens = _number(params, "max_tokens")
    if max_tokens is not None and not 1 <= max_tokens <= limits.max_output:
        raise Rejected(invalid_parameter(f"Range of max_tokens should be [1, {limits.max_output}]"))
    seed = _number(params, "seed")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise Rejected(invalid_value(f"Range of seed should be [0, {MAX_SEED}]"))


def check(
    model: Any, messages: Any, params: dict[str, Any], *, stream: bool, incremental: bool, parts: bool = True
) -> Call:
    """A `Call`, or `Rejected` with the error the service would give for the first problem found.
    `parts`: content may be a list of parts (multimodal endpoint, compatible mode); the native text
    endpoint takes only strings ("input content must be a string.")."""
    if not isinstance(model, str) or not model:
        raise Rejected(invalid_parameter("Model not specified."))
    limits = limits_of(model)
    if not isinstance(messages, list) or not messages:
        raise Rejected(invalid_parameter('Either "prompt" or "messages" must exist and cannot both be none'))
    contents: list[str] = []
    roles: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise Rejected(invalid_parameter("Role must be in [user, assistant, system, tool]"))
        roles.append(message["role"])
        contents.append(_text(message.get("content"), parts))
    if "user" not in roles:
        raise Rejected(invalid_parameter("The input messages must contain a user message."))
    continued, misplaced = partial.requested(messages)
    if misplaced is not None:
        raise Rejected(invalid_parameter(misplaced))
    _check_ranges(params, limits)
    # DashScope's JSON mode wants "json" said in a system or user message (Model Studio's structured-output
    # page: "The system message or user message must contain the "JSON" keyword"), not an assistant's
    response_format = params.get("response_format")
    json_mode = isinstance(response_format, dict) and response_format.get("type") == "json_object"
    said = (content for role, content in zip(roles, contents, strict=True) if role in ("system", "user"))
    if json_mode and not any("json" in content.lower() for content in said):
        raise Rejected(JSON_NOT_ASKED)
    if (budget := features.budget_error(model, params)) is not None:
        raise Rejected(invalid_parameter(budget))
    thinking = params.get("enable_thinking") is True or features.thinking_wanted(model, params)
    if continued and (unsupported := partial.refusal(model, thinking)) is not None:
        raise Rejected(invalid_parameter(unsupported))
    if thinking and not (stream and incremental):
        raise Rejected(invalid_parameter("The incremental_output parameter must be true when enable_thinking is true."))
    input_tokens = tokens.chat_tokens(contents)
    if input_tokens > limits.max_input:
        raise Rejected(invalid_parameter(f"Range of input length should be [1, {limits.max_input}]"))
    stop = params.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(s for s in stop or () if isinstance(s, str))
    max_tokens = params.get("max_tokens")
    seed = params.get("seed")
    return Call(
        model=model,
        contents=contents,
        roles=roles,
        input_tokens=input_tokens,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        stop=stops,
        seed=int(seed) if seed is not None else None,
        json_mode=json_mode,
        partial=continued,
    )
