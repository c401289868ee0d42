"""Every error the fake can answer with, in the codes and messages the real service uses.

One `ApiError` renders in both protocols: native `{"code", "message", "request_id"}` and compatible
mode `{"error": {"message", "type", "param", "code"}, "request_id"}`. `FAULTS` names the ones a test
or benchmark can script (see `fakescope.options`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiError:
    status: int
    code: str
    message: str
    compat_code: str
    compat_type: str = "invalid_request_error"
    compat_status: int | None = None  # when compatible mode answers with another status

    def native(self, request_id: str) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "request_id": request_id}

    def compat(self, request_id: str) -> dict[str, Any]:
        error = {"message": self.message, "type": self.compat_type, "param": None, "code": self.compat_code}
        return {"error": error, "request_id": request_id}


def invalid_parameter(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message, "invalid_request_error")


def invalid_value(message: str) -> ApiError:
    """A parameter out of its range: native InvalidParameter, compatible mode's `invalid_value`."""
    return ApiError(400, "InvalidParameter", message, "invalid_value")


INVALID_KEY = ApiError(401, "InvalidApiKey", "Invalid API-key provided.", "invalid_api_key")
MODEL_NOT_FOUND = ApiError(400, "InvalidParameter", "Model not exist.", "model_not_found", compat_status=404)
# A model asked on the native endpoint it is not served on (a text-only model on the multimodal one,
# a multimodal-only model such as qwen3.5-plus or qwen-vl-max on the text one).
URL_ERROR = ApiError(
    400,
    "InvalidParameter",
    "url error, please check url！ For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url",
    "invalid_request_error",
)
# JSON mode (`response_format: {"type": "json_object"}`) on messages that never say "json", in any
# case (Model Studio's JSON-mode page; compatible mode's answer as reported in agno-agi/agno#5317).
JSON_NOT_ASKED = ApiError(
    400,
    "InvalidParameter",
    "<400> InternalError.Algo.InvalidParameter: 'messages' must contain the word 'json' in some form,"
    " to use 'response_format' of type 'json_object'.",
    "invalid_parameter_error",
)
NOT_FOUND = ApiError(404, "NotFound", "Not found.", "not_found")
OUTPUT_INSPECTION = ApiError(
    400, "DataInspectionFailed", "Output data may contain inappropriate content.", "data_inspection_failed"
)
_OVERLOAD = "server_error"
_THROTTLE = "limit_requests"

# Errors answered before any output, by fault name.
FAULTS: dict[str, ApiError] = {
    "invalid_key": INVALID_KEY,
    "access_denied": ApiError(403, "AccessDenied", "Access denied.", "access_denied"),
    "arrearage": ApiError(
        400, "Arrearage", "Access denied, please make sure your account is in good standing.", "Arrearage"
    ),
    "input_moderation": ApiError(
        400, "DataInspectionFailed", "Input data may contain inappropriate content.", "data_inspection_failed"
    ),
    "throttling": ApiError(429, "Throttling", "Requests throttling triggered.", _THROTTLE),
    "rate_quota": ApiError(
        429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.", _THROTTLE
    ),
    "limit_requests": ApiError(
        429, "LimitRequests", "Requests rate limit exceeded, please try again later.", _THROTTLE
    ),
    "burst_rate": ApiError(
        429,
        "Throttling.BurstRate",
        "Request rate increased too quickly. To ensure system stability, please adjust your client logic "
        "to scale requests more smoothly over time.",
        "limit_burst_rate",
    ),
    "allocation_quota": ApiError(
        429,
        "Throttling.AllocationQuota",
        "Allocated quota exceeded, please increase your quota limit.",
        "insufficient_quota",
    ),
    "free_quota": ApiError(429, "Throttling.AllocationQuota", "Free allocated quota exceeded.", "insufficient_quota"),
    "prepaid_bill_overdue": ApiError(429, "PrepaidBillOverdue", "The prepaid bill is overdue.", "PrepaidBillOverdue"),
    "postpaid_bill_overdue": ApiError(
        429, "PostpaidBillOverdue", "The postpaid bill is overdue.", "PostpaidBillOverdue"
    ),
    "commodity_not_purchased": ApiError(
        429, "CommodityNotPurchased", "Commodity has not purchased yet.", "CommodityNotPurchased"
    ),
    "internal_error": ApiError(
        500,
        "InternalError",
        "An internal error has occured, please try again later or contact service support.",
        "internal_error",
        _OVERLOAD,
    ),
    "unavailable": ApiError(
        503, "ModelUnavailable", "Model is unavailable, please try again later.", "ModelUnavailable"
    ),
    "serving_error": ApiError(
        503, "ModelServingError", "Too many requests. Server is overloaded.", "ModelServingError"
    ),
}

# Faults that strike after `after_chunks` events of a stream (or instead of a non-stream body).
STREAM_FAULTS = frozenset({"output_moderation", "stall", "reset", "truncate"})
