"""The signed-in user's profile (username, avatar); RLS lets each user see and edit only their own."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, patch
from msgspec import UNSET

from api import rules
from api.database import Caller
from api.docs import errors
from api.errors import Conflict, NotFound, UsernameTaken
from api.schemas import ProfileOut, ProfileResponse, ProfileUpdate
from api.security import CurrentUser
from api.upstream import Upstream, call, rows

COLUMNS = "id,username,email,avatar_url,is_active,last_login_at,created_at,updated_at"


def profile_out(row: dict[str, Any]) -> ProfileOut:
    return ProfileOut(
        id=str(row["id"]),
        username=str(row["username"]),
        email=row.get("email"),
        avatar_url=row.get("avatar_url"),
        is_active=bool(row.get("is_active", True)),
        last_login_at=row.get("last_login_at"),
        created_at=str(row["created_at"]),
        updated_at=str(row["updated_at"]),
    )


async def _read(upstream: Upstream, user: CurrentUser) -> ProfileResponse:
    response = await call(upstream.rest(user.token).from_("profiles").select(COLUMNS).eq("id", user.id).execute())
    found = rows(response.data)
    if not found:
        raise NotFound("No profile for this user.", code="ProfileNotFound")
    return ProfileResponse(success=True, profile=profile_out(found[0]))


class ProfileController(Controller):
    path = "/api/profile"
    tags = ["profile"]  # noqa: RUF012

    @get("/", responses=errors(404))
    async def get_profile(self, caller: Caller) -> ProfileResponse:
        found = await caller.read_rows(ProfileOut, "select facade.profile($1, $2)", uuid.UUID(caller.user.id))
        if not found:
            raise NotFound("No profile for this user.", code="ProfileNotFound")
        return ProfileResponse(success=True, profile=found[0])

    @patch("/", responses=errors(404, 409, 413, 422))
    async def update_profile(self, data: ProfileUpdate, user: CurrentUser, upstream: Upstream) -> ProfileResponse:
        changes: dict[str, Any] = {}
        if data.username is not UNSET:
            changes["username"] = rules.username(data.username)
        if data.avatar_url is not UNSET:
            changes["avatar_url"] = (
                rules.avatar_url(data.avatar_url, max_chars=2000)
                if data.avatar_url and data.avatar_url.strip()
                else None
            )
        rest = upstream.rest(user.token)
        if not changes:
            return await _read(upstream, user)
        try:
            response = await call(rest.from_("profiles").update(changes).eq("id", user.id).execute())
        except Conflict as exc:
            raise UsernameTaken(field="username") from exc
        found = rows(response.data)
        if not found:
            raise NotFound("No profile for this user.", code="ProfileNotFound")
        return ProfileResponse(success=True, profile=profile_out(found[0]))
