"""What a completion's answer looks like in OpenAI's terms: its usage, its citations, its finish
reason, and the errors told once the question is stored (a failed answer, a restarted one)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from api.compat.errors import OpenAIError

_encoder = msgspec.json.Encoder()


def stored(row: dict[str, Any], column: str) -> str:
    return str(row.get(column) or "")


def usage_of(answer: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's usage, with the parts it details: the prompt's tokens DashScope served from its
    context cache, and the completion's thinking tokens (both billed differently)."""
    prompt, completion = int(answer.get("input_tokens") or 0), int(answer.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(answer.get("cached_tokens") or 0)},
        "completion_tokens_details": {"reasoning_tokens": int(answer.get("reasoning_tokens") or 0)},
    }


_CITED = re.compile(r"\[(\d{1,3})\]")  # how the worker asks answers to cite a source (worker/prompt.py)


def annotations_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A searched answer's sources as OpenAI's `url_citation` annotations: one for each `[n]` its
    text cites, spanning the marker (character offsets into `content`)."""
    raw = answer.get("sources")
    listed = msgspec.json.decode(raw) if isinstance(raw, str | bytes) else raw
    sources = {s.get("index"): s for s in listed or () if isinstance(s, dict) and isinstance(s.get("url"), str)}
    if not sources:
        return []
    return [
        {
            "type": "url_citation",
            "url_citation": {
                "start_index": cited.start(),
                "end_index": cited.end(),
                "url": source["url"],
                "title": str(source.get("title") or ""),
            },
        }
        for cited in _CITED.finditer(stored(answer, "content"))
        if (source := sources.get(int(cited.group(1)))) is not None
    ]


def finish_reason(answer: dict[str, Any]) -> str:
    return "length" if answer.get("finish_reason") == "length" else "stop"


def restarted() -> OpenAIError:
    return OpenAIError(
        502,
        "The answer was restarted after a failure and no longer matches what this stream sent; the whole"
        " answer is stored in the history (X-ChatGalaxy-Message names its question).",
        "server_error",
        "answer_restarted",
        **{"x-should-retry": "false"},
    )


# Failures of the request itself, not of the service, as OpenAI and DashScope's compatible mode say
# them (400 invalid_request_error: the SDKs' BadRequestError; LiteLLM and LangChain read
# context_length_exceeded to shorten the conversation): a moderation refusal, a prompt or document
# past the model's context, a document without text or too heavy to read (too many pages, or its
# reading past its time). Every other failure is the service's (502).
_REQUEST_FAULTS = {
    "ContentFiltered": "data_inspection_failed",
    "InputTooLong": "context_length_exceeded",
    "DocumentTooLong": "context_length_exceeded",
    "DocumentUnreadable": "invalid_document",
    "DocumentTooComplex": "invalid_document",
    "DocumentUnsupported": "invalid_document",
}


# The plan, checked again at the claim (worker/plan_check.py): told with admission's 403 codes.
_PLAN_REFUSALS = {
    "ModelNotAllowed": ("model_not_allowed", "model"),
    "VisionModelNotAllowed": ("model_not_allowed", "model"),
    "FeatureNotAllowed": ("feature_not_allowed", None),
    "AccountDisabled": ("account_disabled", None),
}


def answer_error(answer: dict[str, Any]) -> OpenAIError:
    message = str(answer.get("error_message") or "The model could not answer.")
    code = str(answer.get("error_code") or "answer_failed")
    if (refused := _PLAN_REFUSALS.get(code)) is not None:
        return OpenAIError(403, message, "invalid_request_error", refused[0], refused[1], **{"x-should-retry": "false"})
    if (fault := _REQUEST_FAULTS.get(code)) is not None:
        return OpenAIError(400, message, "invalid_request_error", fault, **{"x-should-retry": "false"})
    return OpenAIError(502, message, "server_error", code, **{"x-should-retry": "false"})


def stream_error(error: OpenAIError) -> bytes:
    """An error told in a stream, after its 200: `data: {"error": {...}}`, as OpenAI's are."""
    return b"data: " + _encoder.encode(error.body()) + b"\n\n"
