"""Share links: make one for a session, read one by its token, list and revoke the caller's own.

The database does the work (migrations/..._chat_shares.sql): `share_session` snapshots the path
and returns the token once (only its hash is stored), `read_share` is the one way to read a share
and answers anyone holding the token, and RLS lets owners list and delete only their own rows.
So this module only translates: making, listing and revoking run with the caller's token; reading
runs with the anon key, whoever calls. Another user's session or share is indistinguishable from
a missing one (404), and so is a revoked or mistyped link.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import delete, get, post
from litestar.params import Parameter
from litestar.response import Response
from postgrest import APIError, AsyncPostgrestClient
from postgrest.types import ReturnMethod

from api import rules
from api.docs import errors
from api.errors import ApiError, SessionNotFound, ShareIdTaken, ShareNotFound
from api.history import decode_cursor, encode_cursor
from api.security import CurrentUser
from api.upstream import Upstream, call, rest_error, rows

SHARE_COLUMNS = "id,session_id,title,include_reasoning,include_attachments,created_at"
SHARES_PAGE = 200  # links a page of GET /api/shares holds at most (and by default, as before paging)
# A token as share_session() makes them (base64url); anything else cannot be a share.
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class ShareRequest(msgspec.Struct, forbid_unknown_fields=True):
    include_reasoning: bool = False
    include_attachments: bool = False
    # The client's UUID for the share: the token is only ever in this answer, so a client that lost
    # it sends the same id again, is told ShareIdTaken (409), deletes that share and shares anew.
    share_id: str | None = None


class ShareMade(msgspec.Struct):
    id: str
    token: str
    path: str  # the web app's page for the link: /s/<token>
    created_at: str


class ShareMadeResponse(msgspec.Struct):
    share: ShareMade
    success: bool = True


class ShareSummary(msgspec.Struct):
    id: str
    session_id: str
    title: str | None
    include_reasoning: bool
    include_attachments: bool
    created_at: str


class SharesResponse(msgspec.Struct):
    shares: list[ShareSummary]
    # The `cursor` that reads the next (older) page, None on the last one.
    next_cursor: str | None = None
    success: bool = True


class SharedAttachment(msgspec.Struct, omit_defaults=True):
    """What a shared file is; never where it is stored (its path names the owner)."""

    name: str
    mime_type: str
    size: int
    width: int | None = None
    height: int | None = None


class SharedSource(msgspec.Struct):
    """A web source a searched answer cites as [index], as the worker stores it."""

    index: int
    title: str
    url: str
    site_name: str = ""


class SharedMessage(msgspec.Struct, omit_defaults=True):
    type: str
    content: str
    created_at: str
    model: str | None = None
    reasoning: str | None = None
    attachments: list[SharedAttachment] | None = None
    sources: list[SharedSource] | None = None
    continued: bool = False  # an answer that continued a /v1 request's words, its content them and then it


class SharedConversation(msgspec.Struct):
    title: str | None
    created_at: str
    messages: list[SharedMessage]


class SharedResponse(msgspec.Struct):
    share: SharedConversation
    success: bool = True


async def _rpc(
    rest: AsyncPostgrestClient, name: str, params: dict[str, Any], missing: ApiError, taken: ApiError | None = None
) -> Any:
    """An RPC whose PT404 refusal means `missing` and whose ShareIdTaken means `taken`; other
    failures as any REST call's."""
    try:
        return (await rest.rpc(name, params).execute()).data
    except APIError as exc:
        if exc.code == "PT404":
            raise missing from exc
        if exc.code == "ShareIdTaken" and taken is not None:
            raise taken from exc
        raise rest_error(exc) from exc


@post("/api/sessions/{session_id:str}/share", status_code=201, tags=["shares"], responses=errors(404, 409, 413, 422))
async def create_share(
    session_id: str, user: CurrentUser, upstream: Upstream, data: ShareRequest | None = None
) -> ShareMadeResponse:
    """Snapshot the session's current conversation; the token in the answer is shown only now."""
    if not rules.is_uuid(session_id):
        raise SessionNotFound()
    flags = data or ShareRequest()
    share_id = None if flags.share_id is None else rules.uuid_field(flags.share_id, "share_id")
    made = await _rpc(
        upstream.rest(user.token),
        "share_session",
        {
            "session_id": session_id,
            "include_reasoning": flags.include_reasoning,
            "include_attachments": flags.include_attachments,
            "share_id": share_id,
        },
        SessionNotFound(session_id=session_id),
        ShareIdTaken(field="share_id"),
    )
    token = str(made["token"])
    return ShareMadeResponse(
        share=ShareMade(id=str(made["id"]), token=token, path=f"/s/{token}", created_at=str(made["created_at"]))
    )


@get("/api/share/{token:str}", tags=["shares"], security=[{}], responses=errors(404, signed_in=False))
async def read_share(token: str, upstream: Upstream) -> Response[SharedResponse]:
    """The shared conversation, for anyone with the link; search engines are told not to index it."""
    if not 16 <= len(token) <= 64 or not set(token) <= _TOKEN_CHARS:
        raise ShareNotFound()
    found = await _rpc(upstream.rest_anon(), "read_share", {"token": token}, ShareNotFound())
    if not found:
        raise ShareNotFound()
    shared = msgspec.convert(found, SharedConversation, strict=False)
    return Response(
        SharedResponse(share=shared),
        headers={"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "private, no-store"},
    )


@get("/api/shares", tags=["shares"], responses=errors(404, 422))
async def list_shares(
    user: CurrentUser,
    upstream: Upstream,
    session_id: str | None = None,
    limit: int = Parameter(default=SHARES_PAGE, ge=1, le=SHARES_PAGE, description="Links per page."),
    cursor: str | None = Parameter(
        default=None, max_length=200, description="The previous page's `next_cursor`: the links older than it."
    ),
) -> SharesResponse:
    """The caller's share links, newest first (optionally of one session), a page at a time: a
    page's `next_cursor` reads the next one, as the history's does, until it is null."""
    keyset = decode_cursor(cursor) if cursor else None
    query = upstream.rest(user.token).from_("chat_shares").select(SHARE_COLUMNS)
    if session_id is not None:
        if not rules.is_uuid(session_id):
            raise SessionNotFound()
        query = query.eq("session_id", session_id)
    if keyset is not None:  # after the last link seen: older, or as old with a lower id
        stamp = f'"{keyset.created_at}"'
        query = query.lte("created_at", keyset.created_at).or_(
            f"created_at.lt.{stamp},and(created_at.eq.{stamp},id.lt.{keyset.id})"
        )
    query = query.order("created_at", desc=True).order("id", desc=True).limit(limit + 1)
    found = [msgspec.convert(r, ShareSummary, strict=False) for r in rows((await call(query.execute())).data)]
    page = found[:limit]
    more = len(found) > limit
    next_cursor = encode_cursor({"created_at": page[-1].created_at, "id": page[-1].id}) if more else None
    return SharesResponse(shares=page, next_cursor=next_cursor)


@delete("/api/shares/{share_id:str}", status_code=200, tags=["shares"], responses=errors(404))
async def revoke_share(share_id: str, user: CurrentUser, upstream: Upstream) -> ShareSummary:
    """Revoke a link: its share is deleted and the link answers 404 from now on."""
    if not rules.is_uuid(share_id):
        raise ShareNotFound()
    rest = upstream.rest(user.token)
    response = await call(rest.from_("chat_shares").select(SHARE_COLUMNS).eq("id", share_id).execute())
    found = rows(response.data)
    if not found:
        raise ShareNotFound()
    # The row read above is the caller's (RLS); the delete runs under the same policy.
    await call(rest.from_("chat_shares").delete(returning=ReturnMethod.minimal).eq("id", share_id).execute())
    return msgspec.convert(found[0], ShareSummary, strict=False)


SHARE_HANDLERS = [create_share, read_share, list_shares, revoke_share]
