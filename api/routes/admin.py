"""`/api/admin/*`: list and search users, see a user's usage, change their plan, disable and
re-enable accounts, edit plans and the built-in roles.

Authorization is the database's: every call runs with the admin's own JWT and RLS grants admins
what they see and change (`is_admin()` reads app_metadata.role, which only the service role can
set). The check here only turns a non-admin away early with a clear code. Changes are recorded
in audit.events by triggers; reads are recorded through `audit_admin_read`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, patch
from litestar.params import Parameter
from msgspec import UNSET, Struct, UnsetType
from postgrest import AsyncPostgrestClient

from api import rules
from api.docs import errors
from api.errors import AdminOnly, BadRequest, PlanNotFound, RoleNotFound, UserNotFound
from api.routes.usage import UsageResponse, usage_of
from api.schemas import RoleTexts
from api.security import CurrentUser
from api.upstream import Upstream, call, rows

USER_COLUMNS = "id,username,email,created_at,last_login_at,user_plans(plan_id,disabled)"
PLAN_COLUMNS = (
    "id,name,tokens_per_day,tokens_per_month,requests_per_minute,models,allow_thinking,allow_vision,"
    "allow_search,is_default,sort_order"
)
ROLE_COLUMNS = "id,slug,name,description,system_prompt,is_active,sort_order,translations"


class AdminUser(Struct):
    id: str
    username: str
    email: str | None
    created_at: str
    last_login_at: str | None
    plan_id: str | None
    disabled: bool


class AdminUsersResponse(Struct):
    success: bool
    users: list[AdminUser]
    next_cursor: str | None = None


class AdminUserUpdate(Struct, forbid_unknown_fields=True):
    plan_id: str | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class PlanUpdate(Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    tokens_per_day: int | UnsetType | None = UNSET
    tokens_per_month: int | UnsetType | None = UNSET
    requests_per_minute: int | UnsetType | None = UNSET
    models: list[str] | UnsetType | None = UNSET
    allow_thinking: bool | UnsetType = UNSET
    allow_vision: bool | UnsetType = UNSET
    allow_search: bool | UnsetType = UNSET
    is_default: bool | UnsetType = UNSET


class BuiltinRoleUpdate(Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    system_prompt: str | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET
    translations: dict[str, RoleTexts] | UnsetType | None = UNSET


class ItemsResponse(Struct):
    success: bool
    items: list[dict[str, Any]]


class ItemResponse(Struct):
    success: bool
    item: dict[str, Any]


def _admin(user: CurrentUser) -> None:
    """Turn a non-admin away early; RLS would show them nothing anyway."""
    if not user.admin:
        raise AdminOnly()


async def _audit(rest: AsyncPostgrestClient, action: str, target: str | None = None, **details: Any) -> None:
    args: dict[str, Any] = {"action": action, "target": target, "details": details}
    await call(rest.rpc("audit_admin_read", args).execute())


def _admin_user(row: dict[str, Any]) -> AdminUser:
    plan = row.get("user_plans")
    if isinstance(plan, list):
        plan = plan[0] if plan else None
    plan = plan if isinstance(plan, dict) else {}
    return AdminUser(
        id=str(row["id"]),
        username=str(row["username"]),
        email=row.get("email"),
        created_at=str(row["created_at"]),
        last_login_at=row.get("last_login_at"),
        plan_id=plan.get("plan_id"),
        disabled=bool(plan.get("disabled", False)),
    )


def _changes(data: Struct) -> dict[str, Any]:
    changes = {name: getattr(data, name) for name in data.__struct_fields__ if getattr(data, name) is not UNSET}
    if not changes:
        raise BadRequest("Nothing to change.")
    return changes


def _non_negative(changes: dict[str, Any], *names: str) -> None:
    for name in names:
        value = changes.get(name)
        if value is not None and not 0 <= value <= 10**15:
            raise BadRequest(f"{name} must be between 0 and 10^15 or null.", field=name)


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]  # noqa: RUF012

    @get("/users", responses=errors(403, 422))
    async def users(
        self,
        *,
        user: CurrentUser,
        upstream: Upstream,
        q: str | None = Parameter(default=None, max_length=100),
        limit: int = Parameter(default=50, ge=1, le=200),
        offset: int = Parameter(default=0, ge=0, le=1_000_000),
        cursor: str | None = Parameter(default=None, max_length=1000),
    ) -> AdminUsersResponse:
        """Users, newest first, optionally matching `q` in username or email. `next_cursor` (null at
        the end) reads the page after this one from right after its last user, unmoved by sign-ups
        and deletions meanwhile; with `cursor`, `offset` counts from it. A cursor this list did not
        give is InvalidCursor (422)."""
        _admin(user)
        rest = upstream.rest(user.token)
        term = (q or "").strip()
        args: dict[str, Any] = {"q": term, "max_rows": offset + limit + 1, "after": cursor}
        query = rest.rpc("users_page", args).select(f"{USER_COLUMNS},page_cursor:user_cursor")
        found = rows((await call(query.range(offset, offset + limit).execute())).data)
        await _audit(rest, "list_users", None, q=term)
        more = len(found) > limit
        return AdminUsersResponse(
            success=True,
            users=[_admin_user(row) for row in found[:limit]],
            next_cursor=str(found[limit - 1]["page_cursor"]) if more else None,
        )

    @get("/users/{user_id:str}/usage", responses=errors(403, 404))
    async def user_usage(
        self, user_id: str, user: CurrentUser, upstream: Upstream, days: int = Parameter(default=30, ge=1, le=366)
    ) -> UsageResponse:
        _admin(user)
        if not rules.is_uuid(user_id):
            raise UserNotFound()
        rest = upstream.rest(user.token)
        usage = await usage_of(rest, days, user_id)
        await _audit(rest, "view_usage", user_id)
        return usage

    @patch("/users/{user_id:str}", responses=errors(403, 404, 413))
    async def update_user(
        self, user_id: str, data: AdminUserUpdate, user: CurrentUser, upstream: Upstream
    ) -> AdminUsersResponse:
        """Change a user's plan and/or disable or re-enable the account (recorded by a trigger)."""
        _admin(user)
        if not rules.is_uuid(user_id):
            raise UserNotFound()
        changes = _changes(data)
        rest = upstream.rest(user.token)
        if "plan_id" in changes:
            plan = await call(rest.from_("plans").select("id").eq("id", str(changes["plan_id"])[:40]).execute())
            if not rows(plan.data):
                raise PlanNotFound(field="plan_id")
        updated = rows((await call(rest.from_("user_plans").update(changes).eq("user_id", user_id).execute())).data)
        if not updated:
            raise UserNotFound()
        found = rows((await call(rest.from_("profiles").select(USER_COLUMNS).eq("id", user_id).execute())).data)
        return AdminUsersResponse(success=True, users=[_admin_user(row) for row in found])

    @get("/plans", responses=errors(403))
    async def plans(self, user: CurrentUser, upstream: Upstream) -> ItemsResponse:
        _admin(user)
        found = await call(upstream.rest(user.token).from_("plans").select(PLAN_COLUMNS).order("sort_order").execute())
        return ItemsResponse(success=True, items=rows(found.data))

    @patch("/plans/{plan_id:str}", responses=errors(403, 404, 413, 422))
    async def update_plan(self, plan_id: str, data: PlanUpdate, user: CurrentUser, upstream: Upstream) -> ItemResponse:
        _admin(user)
        changes = _changes(data)
        _non_negative(changes, "tokens_per_day", "tokens_per_month", "requests_per_minute")
        if "requests_per_minute" in changes and (changes["requests_per_minute"] or 0) > 2**31 - 1:
            raise BadRequest("requests_per_minute is too large.", field="requests_per_minute")
        if "name" in changes:
            changes["name"] = rules.text(changes["name"], "name", max_chars=100)
        if changes.get("models") is not None:
            changes["models"] = [rules.text(m, "models", max_chars=64) for m in changes["models"][:100]]
        if changes.get("is_default") is False:
            raise BadRequest("Make another plan the default instead.", field="is_default")
        found = await call(upstream.rest(user.token).from_("plans").update(changes).eq("id", plan_id[:40]).execute())
        updated = rows(found.data)
        if not updated:
            raise PlanNotFound()
        return ItemResponse(success=True, item=updated[0])

    @get("/roles", responses=errors(403))
    async def roles(self, user: CurrentUser, upstream: Upstream) -> ItemsResponse:
        """Built-in roles, inactive ones included."""
        _admin(user)
        query = upstream.rest(user.token).from_("ai_roles").select(ROLE_COLUMNS).is_("created_by", "null")
        return ItemsResponse(success=True, items=rows((await call(query.order("sort_order").execute())).data))

    @patch("/roles/{slug:str}", responses=errors(403, 404, 413, 422))
    async def update_role(
        self, slug: str, data: BuiltinRoleUpdate, user: CurrentUser, upstream: Upstream
    ) -> ItemResponse:
        _admin(user)
        if "\x00" in slug:
            raise RoleNotFound()  # no slug holds a NUL (which Postgres would refuse as text)
        changes = _changes(data)
        if "name" in changes:
            changes["name"] = rules.role_text(changes["name"], "name", max_chars=100)
        if "system_prompt" in changes:
            changes["system_prompt"] = rules.role_text(changes["system_prompt"], "system_prompt", max_chars=8000)
        if "description" in changes:
            changes["description"] = rules.role_description(changes["description"])
        if "translations" in changes:
            changes["translations"] = rules.role_translations(changes["translations"])
        if "sort_order" in changes and not -(2**31) <= changes["sort_order"] < 2**31:
            raise BadRequest("sort_order is out of range.", field="sort_order")
        query = (
            upstream.rest(user.token).from_("ai_roles").update(changes).eq("slug", slug[:64]).is_("created_by", "null")
        )
        updated = rows((await call(query.execute())).data)
        if not updated:
            raise RoleNotFound()
        return ItemResponse(success=True, item={k: updated[0].get(k) for k in ROLE_COLUMNS.split(",")})
