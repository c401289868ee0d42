"""The error table: which endpoint errors the worker may retry."""

from __future__ import annotations

import pytest

from worker.llm.errors import classify, retry_after


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (401, "InvalidApiKey", "Invalid API-key provided.", ("InvalidApiKey", False)),
        (400, "DataInspectionFailed", "Output data may contain inappropriate content.", ("ContentFiltered", False)),
        (429, "Throttling.RateQuota", "Requests rate limit exceeded", ("RateLimited", True)),
        (429, "Throttling.AllocationQuota", "Allocated quota exceeded, please increase", ("RateLimited", True)),
        (429, "Throttling.AllocationQuota", "Free allocated quota exceeded.", ("QuotaExhausted", False)),
        (429, "PostpaidBillOverdue", "", ("QuotaExhausted", False)),
        (429, "CommodityNotPurchased", "", ("QuotaExhausted", False)),
        (403, "AllocationQuota.FreeTierOnly", "", ("QuotaExhausted", False)),
        (403, "Model.AccessDenied", "", ("AccessDenied", False)),
        (400, "InvalidParameter", "Model not exist.", ("ModelNotFound", False)),
        (400, "InvalidParameter", "Range of input length should be [1, 98304]", ("InputTooLong", False)),
        (400, "InvalidParameter", "Temperature should be in [0.0, 2.0)", ("InvalidRequest", False)),
        (400, "InvalidParameter", "Failed to download multimodal content", ("ImageUnreachable", False)),
        (400, "invalid_parameter_error", "Failed to download multimodal content", ("ImageUnreachable", False)),
        (500, "InternalError.Algo", "", ("ServerError", True)),
        (400, "InternalError", "mid-stream: the SDK reports every error event as 400", ("ServerError", True)),
        (503, "ModelUnavailable", "", ("ServiceUnavailable", True)),
        (502, "", "<html>bad gateway</html>", ("ServerError", True)),
        (429, "limit_requests", "", ("RateLimited", True)),
        (429, "insufficient_quota", "Free allocated quota exceeded.", ("QuotaExhausted", False)),
        (401, "invalid_api_key", "", ("InvalidApiKey", False)),
        (404, "model_not_found", "", ("ModelNotFound", False)),
    ],
)
def test_classification(status: int, code: str, message: str, expected: tuple[str, bool]) -> None:
    error = classify(status, code, message, retry_after=2.0)
    assert (error.code, error.retryable) == expected
    assert error.retry_after == (2.0 if error.retryable else None)
    assert error.upstream_code == code


def test_retry_after_headers() -> None:
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({}) is None
