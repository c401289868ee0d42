"""Chat sessions of the signed-in user: list, create, read, rename (or rebind the role), delete.

Sessions expose `role_id` as the role's slug, like the roles endpoint; another user's session is
indistinguishable from a missing one (404).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from msgspec import UNSET
from postgrest import AsyncPostgrestClient

from api import rules
from api.conversation import find_role, find_session
from api.database import Caller
from api.docs import errors
from api.errors import Conflict, SessionIdTaken, SessionNotFound
from api.schemas import Ok, SessionCreate, SessionOut, SessionResponse, SessionsResponse, SessionUpdate
from api.security import CurrentUser
from api.upstream import Upstream, call, rows

TITLE_MAX = 200


class _Place(msgspec.Struct):
    cursor: str


_sessions_decoder = msgspec.json.Decoder(list[SessionOut])
_places_decoder = msgspec.json.Decoder(list[_Place])


async def _role_slugs(rest: AsyncPostgrestClient, sessions: list[dict[str, Any]]) -> dict[str, str]:
    ids = sorted({str(s["role_id"]) for s in sessions if s.get("role_id")})
    if not ids:
        return {}
    response = await call(rest.from_("ai_roles").select("id,slug").in_("id", ids).execute())
    return {str(r["id"]): str(r["slug"]) for r in rows(response.data)}


def session_out(row: dict[str, Any], slugs: dict[str, str]) -> SessionOut:
    role = row.get("role_id")
    return SessionOut(
        id=str(row["id"]),
        title=row.get("title"),
        role_id=slugs.get(str(role)) if role else None,
        is_active=bool(row.get("is_active", True)),
        message_count=int(row.get("message_count") or 0),
        last_message_at=row.get("last_message_at"),
        created_at=str(row["created_at"]),
        updated_at=str(row["updated_at"]),
        pinned_at=row.get("pinned_at"),
    )


async def _one(rest: AsyncPostgrestClient, row: dict[str, Any]) -> SessionResponse:
    return SessionResponse(success=True, session=session_out(row, await _role_slugs(rest, [row])))


def _title(value: str | None) -> str | None:
    return rules.text(value, "title", max_chars=TITLE_MAX, required=False).strip() or None if value else None


class SessionController(Controller):
    path = "/api/sessions"
    tags = ["sessions"]  # noqa: RUF012

    @get("/", responses=errors(422))
    async def list_sessions(
        self,
        caller: Caller,
        page: int = Parameter(default=1, ge=1, le=100_000),
        limit: int = Parameter(default=20, ge=1, le=100),
        archived: bool = Parameter(default=False, description="list archived sessions instead of current ones"),
        cursor: str | None = Parameter(default=None, max_length=1000),
    ) -> SessionsResponse:
        """Pinned first, then by last activity. `next_cursor` (null at the end) reads the page after
        this one from right after its last session, unmoved by sessions made or deleted meanwhile;
        with `cursor`, `page` counts from it. A cursor this list did not give is InvalidCursor (422)."""
        raw = (
            await caller.read(
                "select facade.sessions($1, $2, $3, $4, $5)", archived, limit + 1, (page - 1) * limit, cursor
            )
        )[0]
        found, places = _sessions_decoder.decode(raw), _places_decoder.decode(raw)
        more = len(found) > limit
        return SessionsResponse(
            success=True,
            sessions=found[:limit],
            page=page,
            limit=limit,
            next_cursor=places[limit - 1].cursor if more else None,
        )

    @post("/", status_code=201, responses=errors(404, 409, 413, 422))
    async def create_session(self, data: SessionCreate, user: CurrentUser, upstream: Upstream) -> SessionResponse:
        """A new session; with the client's `id` for it, sending it again (its answer was lost)
        returns the session that id made, and another user's id is SessionIdTaken (409)."""
        rest = upstream.rest(user.token)
        payload: dict[str, Any] = {"title": _title(data.title)}
        if data.id is not None:
            payload["id"] = rules.uuid_field(data.id, "id")
        if data.role_id:
            payload["role_id"] = (await find_role(rest, data.role_id, active=True))["id"]
        try:
            response = await call(rest.from_("chat_sessions").insert(payload).execute())
        except Conflict:
            if "id" not in payload:
                raise
            stored = rows((await call(rest.from_("chat_sessions").select("*").eq("id", payload["id"]).execute())).data)
            if not stored:
                raise SessionIdTaken(field="id") from None
            return await _one(rest, stored[0])
        return await _one(rest, rows(response.data)[0])

    @get("/{session_id:str}", responses=errors(404))
    async def get_session(self, session_id: str, caller: Caller) -> SessionResponse:
        if not rules.is_uuid(session_id):
            raise SessionNotFound()
        found = await caller.read_rows(SessionOut, "select facade.session($1, $2)", uuid.UUID(session_id))
        if not found:
            raise SessionNotFound(session_id=session_id)
        return SessionResponse(success=True, session=found[0])

    @patch("/{session_id:str}", responses=errors(404, 413, 422))
    async def update_session(
        self, session_id: str, data: SessionUpdate, user: CurrentUser, upstream: Upstream
    ) -> SessionResponse:
        rest = upstream.rest(user.token)
        session = await find_session(rest, session_id)
        changes: dict[str, Any] = {}
        if data.title is not UNSET:
            changes["title"] = _title(data.title)
        if data.role_id is not UNSET:
            changes["role_id"] = (await find_role(rest, data.role_id, active=True))["id"]
        if not changes:
            return await _one(rest, session)
        response = await call(rest.from_("chat_sessions").update(changes).eq("id", session["id"]).execute())
        updated = rows(response.data)
        if not updated:
            raise SessionNotFound()
        return await _one(rest, updated[0])

    @delete("/{session_id:str}", status_code=200, responses=errors(404))
    async def delete_session(self, session_id: str, user: CurrentUser, upstream: Upstream) -> Ok:
        rest = upstream.rest(user.token)
        if not rules.is_uuid(session_id):
            raise SessionNotFound()
        response = await call(rest.from_("chat_sessions").delete().eq("id", session_id).execute())
        if not rows(response.data):
            raise SessionNotFound(session_id=session_id)
        return Ok(message="Session deleted")
