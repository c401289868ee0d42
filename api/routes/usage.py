"""`GET /api/usage`: the caller's allowance now and their usage per day and model.

Both come from SQL functions that run as the caller (security invoker), so RLS decides whose
ledger they can read; the figures are the same ones admission checks.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import Parameter
from msgspec import Struct
from postgrest import AsyncPostgrestClient

from api.docs import errors
from api.errors import UserNotFound
from api.security import CurrentUser
from api.upstream import Upstream, call, rows


class UsageDay(Struct):
    day: str
    model: str
    tokens: int
    requests: int
    input_tokens: int
    output_tokens: int


class UsageResponse(Struct):
    success: bool
    allowance: dict[str, Any]
    daily: list[UsageDay]


async def usage_of(rest: AsyncPostgrestClient, days: int, target: str | None = None) -> UsageResponse:
    """Allowance and daily usage of `target` (default: the caller) as the caller may see them."""
    args: dict[str, Any] = {"target": target} if target else {}
    allowance = (await call(rest.rpc("usage_allowance", args).execute())).data
    if not isinstance(allowance, dict):
        raise UserNotFound()
    daily_args: dict[str, Any] = {"days": days, **args}
    daily = rows((await call(rest.rpc("usage_daily", daily_args).execute())).data)
    return UsageResponse(
        success=True,
        allowance=allowance,
        daily=[
            UsageDay(
                day=str(row["day"]),
                model=str(row["model"]),
                tokens=int(row["tokens"]),
                requests=int(row["requests"]),
                input_tokens=int(row["input_tokens"]),
                output_tokens=int(row["output_tokens"]),
            )
            for row in daily
        ],
    )


class UsageController(Controller):
    path = "/api/usage"
    tags = ["usage"]  # noqa: RUF012

    @get("/", responses=errors())
    async def usage(
        self, user: CurrentUser, upstream: Upstream, days: int = Parameter(default=30, ge=1, le=366)
    ) -> UsageResponse:
        """Remaining allowance (day and month, with reset times) and tokens per day and model."""
        return await usage_of(upstream.rest(user.token), days)
