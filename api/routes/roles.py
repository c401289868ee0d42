"""AI roles: the built-in personas everyone sees, and private custom roles (create, update, delete).

The seed's role object uses the slug as `id`; `uuid`, `is_custom` and `translations` (the name
and description per language, replaced whole by a PATCH that sends it) are added. Built-in roles
are read-only (403 RoleNotEditable); another user's custom role is a 404 like a missing one.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from litestar import Controller, delete, get, patch, post
from msgspec import UNSET
from postgrest import AsyncPostgrestClient

from api import rules
from api.conversation import find_role
from api.database import Caller
from api.docs import errors
from api.errors import Conflict, RoleNotEditable, RoleNotFound, SlugTaken
from api.schemas import Ok, RoleCreate, RoleOut, RoleResponse, RolesResponse, RoleTexts, RoleUpdate
from api.security import CurrentUser
from api.upstream import Upstream, call, rows

NAME_MAX, PROMPT_MAX, AVATAR_MAX = 100, 8000, 500


def role_out(row: dict[str, Any]) -> RoleOut:
    return RoleOut(
        id=str(row["slug"]),
        name=str(row["name"]),
        description=row.get("description"),
        avatar_url=row.get("avatar_url"),
        system_prompt=str(row["system_prompt"]),
        uuid=str(row["id"]),
        is_custom=row.get("created_by") is not None,
        translations={
            locale: RoleTexts(name=texts.get("name"), description=texts.get("description"))
            for locale, texts in (row.get("translations") or {}).items()
        },
    )


async def _own_role(rest: AsyncPostgrestClient, role_id: str) -> dict[str, Any]:
    role = await find_role(rest, role_id)
    if role.get("created_by") is None:
        raise RoleNotEditable()
    return role


def _avatar(value: str | None) -> str | None:
    return rules.avatar_url(value, max_chars=AVATAR_MAX) if value and value.strip() else None


class RoleController(Controller):
    path = "/api/roles"
    tags = ["roles"]  # noqa: RUF012

    @get("/", responses=errors())
    async def list_roles(self, caller: Caller) -> RolesResponse:
        found = await caller.read_rows(RoleOut, "select facade.roles($1, null, null)")
        return RolesResponse(success=True, roles=found)

    @get("/{role_id:str}", responses=errors(404))
    async def get_role(self, role_id: str, caller: Caller) -> RoleResponse:
        by_id = rules.is_uuid(role_id)
        if not by_id and (len(role_id) > 64 or "\x00" in role_id):
            raise RoleNotFound()  # as find_role: no slug is so long or holds a NUL
        found = await caller.read_rows(
            RoleOut,
            "select facade.roles($1, $2, $3)",
            uuidlib.UUID(role_id) if by_id else None,
            None if by_id else role_id,
        )
        if not found:
            raise RoleNotFound()
        return RoleResponse(success=True, role=found[0])

    @post("/", status_code=201, responses=errors(409, 413, 422))
    async def create_role(self, data: RoleCreate, user: CurrentUser, upstream: Upstream) -> RoleResponse:
        payload = {
            "slug": rules.slug(data.id) if data.id else f"custom-{uuidlib.uuid4().hex[:12]}",
            "name": rules.role_text(data.name, "name", max_chars=NAME_MAX),
            "system_prompt": rules.role_text(data.system_prompt, "system_prompt", max_chars=PROMPT_MAX),
            "description": rules.role_description(data.description),
            "avatar_url": _avatar(data.avatar_url),
            "translations": rules.role_translations(data.translations),
            "created_by": user.id,
        }
        try:
            response = await call(upstream.rest(user.token).from_("ai_roles").insert(payload).execute())
        except Conflict as exc:
            raise SlugTaken(field="id") from exc
        return RoleResponse(success=True, role=role_out(rows(response.data)[0]))

    @patch("/{role_id:str}", responses=errors(403, 404, 409, 413, 422))
    async def update_role(self, role_id: str, data: RoleUpdate, user: CurrentUser, upstream: Upstream) -> RoleResponse:
        rest = upstream.rest(user.token)
        role = await _own_role(rest, role_id)
        changes: dict[str, Any] = {}
        if data.id is not UNSET:
            changes["slug"] = rules.slug(data.id)
        if data.name is not UNSET:
            changes["name"] = rules.role_text(data.name, "name", max_chars=NAME_MAX)
        if data.system_prompt is not UNSET:
            changes["system_prompt"] = rules.role_text(data.system_prompt, "system_prompt", max_chars=PROMPT_MAX)
        if data.description is not UNSET:
            changes["description"] = rules.role_description(data.description)
        if data.avatar_url is not UNSET:
            changes["avatar_url"] = _avatar(data.avatar_url)
        if data.translations is not UNSET:
            changes["translations"] = rules.role_translations(data.translations)
        if not changes:
            return RoleResponse(success=True, role=role_out(role))
        try:
            response = await call(rest.from_("ai_roles").update(changes).eq("id", role["id"]).execute())
        except Conflict as exc:
            raise SlugTaken(field="id") from exc
        updated = rows(response.data)
        if not updated:
            raise RoleNotFound()
        return RoleResponse(success=True, role=role_out(updated[0]))

    @delete("/{role_id:str}", status_code=200, responses=errors(403, 404))
    async def delete_role(self, role_id: str, user: CurrentUser, upstream: Upstream) -> Ok:
        rest = upstream.rest(user.token)
        role = await _own_role(rest, role_id)
        response = await call(rest.from_("ai_roles").delete().eq("id", role["id"]).execute())
        if not rows(response.data):
            raise RoleNotFound()
        return Ok(message="Role deleted")
