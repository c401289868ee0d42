"""What the chat clients our users bring ask for in shapes of their own, read as the DashScope keys
they mean before the request is checked (parameters.py): each is the same ask as a key honoured
here, said the way another provider takes it. A shape that asks for something else is refused,
saying what to send instead; never read otherwise than its client meant it.

- `thinking: {type, budget_tokens}` (Anthropic's shape): LobeChat sends it through any
  OpenAI-compatible provider for a model whose card has a reasoning switch, qwen ids among them
  (lobehub/lobe-chat src/services/chat/mecha/modelParamsResolver.ts); only its own Qwen provider
  turns it into enable_thinking / thinking_budget (providers/qwen/index.ts), as it is read here.
"""

from __future__ import annotations

import json
from typing import Any

from api.compat.errors import bad_request
from api.compat.parameters import MAX_THINKING_BUDGET


def _budget(value: Any, where: str, param: str) -> int:
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


def read_peer_shapes(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each peer shape replaced by the DashScope keys it means. Said beside one of those
    keys with another value, which was meant is unknown: refused, the shape named."""
    asked: list[tuple[str, dict[str, Any]]] = []
    if body.get("thinking") is not None:
        asked.append(("thinking", _anthropic_thinking(body["thinking"])))
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
