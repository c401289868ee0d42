"""A /v1 answer the worker refused at its claim because the plan does not include what it would be
answered with (worker/plan_check.py: the request's persona or its session's thinking changed after
the request was admitted) is told as admission tells it: 403, the SDKs' PermissionDeniedError, with
admission's own codes, not a 502 server error the client may think worth retrying elsewhere."""

from __future__ import annotations

import pytest

from api.compat.errors import translate
from api.compat.shapes import answer_error
from api.refusals import refusal_error
from worker.errors import user_message


@pytest.mark.parametrize(
    ("stored", "code", "param"),
    [
        ("ModelNotAllowed", "model_not_allowed", "model"),
        ("VisionModelNotAllowed", "model_not_allowed", "model"),
        ("FeatureNotAllowed", "feature_not_allowed", None),
        ("AccountDisabled", "account_disabled", None),
    ],
)
def test_a_plan_refusal_at_the_claim_is_a_403_with_admissions_code(stored: str, code: str, param: str | None) -> None:
    error = answer_error({"status": "error", "error_code": stored, "error_message": user_message(stored)})
    assert (error.status, error.type, error.code, error.param) == (403, "invalid_request_error", code, param)
    assert error.message == user_message(stored)
    assert error.headers == {"x-should-retry": "false"}


def test_admissions_refusal_of_images_no_model_of_the_plan_sees_is_model_not_allowed() -> None:
    """Raised by usage_admit (20261206141010): the API's 403 VisionModelNotAllowed, /v1's model_not_allowed."""
    words = "Your plan includes no model that reads images."
    refused = refusal_error("VisionModelNotAllowed", words, '{"model": null}')
    assert refused is not None
    assert (refused.status, refused.code, refused.field) == (403, "VisionModelNotAllowed", "model")
    error = translate(refused)
    assert (error.status, error.code, error.param) == (403, "model_not_allowed", "model")
    assert error.message == words
