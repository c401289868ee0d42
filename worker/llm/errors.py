"""Classifying endpoint errors into `ProviderError`s: one table for DashScope's native codes, its
compatible-mode codes and plain HTTP statuses (vLLM, Ollama), so retry policy lives in one place.

Retryable: rate limits (except free-quota exhaustion and billing states), 5xx, timeouts and
connection failures. Everything else is permanent.
"""

from __future__ import annotations

from collections.abc import Mapping

from worker.llm.base import ProviderError

_BILLING = frozenset(
    {
        "Arrearage",
        "PrepaidBillOverdue",
        "PostpaidBillOverdue",
        "CommodityNotPurchased",
        "AllocationQuota.FreeTierOnly",
    }
)
_PERMANENT_THROTTLE_MESSAGES = ("Free allocated quota exceeded",)
_BY_CODE = {
    "InvalidApiKey": "InvalidApiKey",
    "invalid_api_key": "InvalidApiKey",
    "DataInspectionFailed": "ContentFiltered",
    "data_inspection_failed": "ContentFiltered",
    "ModelNotFound": "ModelNotFound",
    "Model.NotExist": "ModelNotFound",
    "model_not_found": "ModelNotFound",
    "LimitRequests": "RateLimited",
    "limit_requests": "RateLimited",
    "limit_burst_rate": "RateLimited",
    "insufficient_quota": "RateLimited",
    "ModelUnavailable": "ServiceUnavailable",
    "ModelServingError": "ServiceUnavailable",
    "SystemError": "ServerError",
    "ModelServiceFailed": "ServerError",
    "RequestTimeOut": "ServerError",
    "internal_error": "ServerError",
    "access_denied": "AccessDenied",
}
_BY_STATUS = {
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "ModelNotFound",
    429: "RateLimited",
    503: "ServiceUnavailable",
}
_RETRYABLE = frozenset(
    {"RateLimited", "ServerError", "ServiceUnavailable", "Timeout", "ConnectionError", "IncompleteStream"}
)


def _our_code(status: int | None, code: str, message: str) -> str:
    if code in _BILLING or any(m in message for m in _PERMANENT_THROTTLE_MESSAGES):
        return "QuotaExhausted"
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code.startswith("Throttling"):
        return "RateLimited"
    if code.startswith("InternalError"):
        return "ServerError"
    if "AccessDenied" in code:
        return "AccessDenied"
    if code == "InvalidParameter" and message.startswith("Model not exist"):
        return "ModelNotFound"
    if status in (None, 400) and "download" in message.lower():  # "Failed to download multimodal content"
        return "ImageUnreachable"
    if "Range of input length" in message:
        return "InputTooLong"
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and status >= 500:
        return "ServerError"
    return "InvalidRequest"


def classify(
    status: int | None, code: str | None, message: str | None, *, request_id: str = "", retry_after: float | None = None
) -> ProviderError:
    """The `ProviderError` for an error the endpoint reported (HTTP error or error event)."""
    code, message = code or "", message or ""
    ours = _our_code(status, code, message)
    retryable = ours in _RETRYABLE
    return ProviderError(
        ours,
        message or code or f"HTTP {status}",
        status=status,
        retryable=retryable,
        retry_after=retry_after if retryable else None,
        request_id=request_id,
        upstream_code=code,
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or a numeric `Retry-After` (dates are ignored)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(lowered[name]) * scale)
        except (KeyError, ValueError):
            continue
    return None


def timeout(detail: str) -> ProviderError:
    return ProviderError("Timeout", detail or "read timeout", retryable=True)


def connection(detail: str) -> ProviderError:
    return ProviderError("ConnectionError", detail or "connection failed", retryable=True)


def incomplete(request_id: str) -> ProviderError:
    return ProviderError(
        "IncompleteStream", "the stream ended without a finish reason", retryable=True, request_id=request_id
    )
