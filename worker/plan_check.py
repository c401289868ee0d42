"""An admitted answer keeps within its user's plan (migrations/20261206110000_an_answer_keeps_within_its_plan.sql).

Admission checks a question against the plan as it is sent; the chat's model and thinking switch, its
persona and the persona's settings can change before the question is claimed, and the worker answers
with them as they are then. So the claim carries the plan of an admitted answer and the worker checks
what it is about to answer with, the way admission (usage_admit) checks it: the model chosen by the
question, the chat or the role (not the deployment's default, which admission cannot know; the model
an image brings is one of the plan's, 20261206141010: worker/turn.py checks it), thinking asked by
the chat or the role (or a /v1 request's own, checked when stored), search asked by the question or
the role; and an account an admin disabled since (migrations/20261206110010). A refusal ends the
answer with admission's code before any model call, charged nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.prompt import parse_personality
from worker.store import Claim


def refusal(claim: Claim) -> str | None:
    """AccountDisabled when an admin disabled the account since, ModelNotAllowed or FeatureNotAllowed
    when the plan does not include what the answer would use."""
    plan: Mapping[str, Any] | None = claim.plan
    if plan is None:  # not admitted (a trusted role's insert): nothing to hold it to
        return None
    if plan.get("disabled"):
        return "AccountDisabled"
    persona = parse_personality({**claim.personality, **claim.parameters})
    model = claim.session_model or persona.model
    models = plan.get("models")
    if model is not None and models is not None and model not in models:
        return "ModelNotAllowed"
    thinking = persona.thinking if claim.thinking_switch is None else claim.thinking_switch
    if thinking and not plan.get("thinking", True):
        return "FeatureNotAllowed"
    if (claim.web_search or persona.enable_search) and not plan.get("search", True):
        return "FeatureNotAllowed"
    return None


def models_of(claim: Claim) -> Sequence[str] | None:
    """The models the claim's plan includes; None when it lists none (every model) or has no plan."""
    models = (claim.plan or {}).get("models")
    return [str(m) for m in models] if isinstance(models, list) else None
