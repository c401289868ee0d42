"""The wire schema: request and response Structs, field names exactly as the seed (section 4) has them.

Types check shape at the edge (a wrong type is a 400); rules about values (lengths, formats,
availability) are checked by the handlers and answered with 422 or 409 and a stable code. A
request body that names a field its door does not take (a misspelling, a field of the response
such as a session's `is_active`) is a 400 too, nothing changed: ignored, a PATCH answered 200
having done nothing and a POST did less than asked.
"""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType


class Ok(Struct):
    success: bool = True
    message: str | None = None


# --- auth -------------------------------------------------------------------------------------


class RegisterRequest(Struct):
    username: str
    email: str
    password: str


class RegisterResponse(Struct):
    success: bool
    message: str
    user_id: str


class LoginRequest(Struct):
    email: str
    password: str


class RefreshRequest(Struct):
    refresh_token: str


class UserOut(Struct):
    id: str
    email: str | None
    username: str | None
    avatar_url: str | None
    created_at: str | None
    last_login_at: str | None = None


class LoginResponse(Struct):
    success: bool
    access_token: str
    refresh_token: str
    user: UserOut
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int | None = None
    expires_at: int | None = None


class MeResponse(Struct):
    success: bool
    user: UserOut


# --- roles ------------------------------------------------------------------------------------


class RoleTexts(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """A role's name and description in one language (ai_roles.translations); either may be absent,
    and the stored `name` / `description` stand in for it."""

    name: str | None = None
    description: str | None = None


class RoleOut(Struct):
    id: str  # the slug: `assistant`, `tech_expert`, or a custom role's own
    name: str
    description: str | None
    avatar_url: str | None
    system_prompt: str
    uuid: str
    is_custom: bool
    # Added to the seed's shape: {"en": {"name": ..., "description": ...}}, keyed by locale (en, zh).
    translations: dict[str, RoleTexts] = {}


class RolesResponse(Struct):
    success: bool
    roles: list[RoleOut]


class RoleResponse(Struct):
    success: bool
    role: RoleOut


class ModelOut(Struct):
    """One model the product offers (`public.models`), with its limits and what it can do."""

    id: str
    display_name: str
    description: str | None
    context_window: int
    max_input: int
    max_output: int
    supports_thinking: bool
    supports_vision: bool
    supports_search: bool
    supports_documents: bool


class ModelsResponse(Struct):
    success: bool
    models: list[ModelOut]


class RoleCreate(Struct, forbid_unknown_fields=True):
    name: str
    system_prompt: str
    id: str | None = None
    description: str | None = None
    avatar_url: str | None = None
    translations: dict[str, RoleTexts] | None = None


class RoleUpdate(Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    system_prompt: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    avatar_url: str | UnsetType | None = UNSET
    translations: dict[str, RoleTexts] | UnsetType | None = UNSET


# --- sessions ---------------------------------------------------------------------------------


class SessionOut(Struct):
    id: str
    title: str | None
    role_id: str | None
    is_active: bool
    message_count: int
    last_message_at: str | None
    created_at: str
    updated_at: str
    pinned_at: str | None = None  # pinned (the web app's pin, REST's chat_sessions.pinned_at): listed first


class SessionResponse(Struct):
    success: bool
    session: SessionOut


class SessionsResponse(Struct):
    success: bool
    sessions: list[SessionOut]
    page: int
    limit: int
    next_cursor: str | None = None


class SessionCreate(Struct, forbid_unknown_fields=True):
    title: str | None = None
    role_id: str | None = None
    id: str | None = None  # the client's UUID for the session: sending it again returns the session it made


class SessionUpdate(Struct, forbid_unknown_fields=True):
    title: str | UnsetType | None = UNSET
    role_id: str | UnsetType = UNSET


# --- chat -------------------------------------------------------------------------------------


class SendRequest(Struct, forbid_unknown_fields=True):
    message: str
    session_id: str
    role_id: str | None = None  # the seed requires it; omitted means the session's role
    message_id: str | None = None  # the client's UUID for the question: sending it again stores it once


class SourceOut(Struct):
    """A web page a searched answer cites as `[index]`."""

    index: int
    url: str
    title: str = ""
    site_name: str = ""


class SendResponse(Struct):
    success: bool
    ai_response: str
    message_id: str
    tokens_used: int
    user_message_id: str
    status: str
    finish_reason: str | None = None
    response_time: int | None = None
    model: str | None = None
    sources: list[SourceOut] | None = None  # the web pages the answer cites as [1], [2]; null when it did not search


class MessageOut(Struct):
    id: str
    session_id: str
    message_type: str
    content: str
    role_id: str | None
    status: str
    reply_to: str | None
    tokens_used: int
    response_time: int | None
    model: str | None
    finish_reason: str | None
    error_code: str | None
    created_at: str
    sources: list[SourceOut] | None = None  # a searched answer's, as its text cites them
    # an answer that continued a /v1 request's words: the words, which it begins with (its content is
    # the continuation, as its row holds it); null for any other message
    continues: str | None = None


class HistoryResponse(Struct):
    success: bool
    messages: list[MessageOut]
    total: int
    page: int
    limit: int
    next_cursor: str | None


class SearchHit(Struct):
    id: str
    session_id: str
    message_type: str
    content: str
    role_id: str | None
    created_at: str
    rank: float
    # an answer that continued a /v1 request's words: the words its content begins with, else null
    continues: str | None = None


class SearchResponse(Struct):
    success: bool
    results: list[SearchHit]
    next_cursor: str | None = None


class StopRequest(Struct, forbid_unknown_fields=True):
    session_id: str | None = None
    message_id: str | None = None


class StopResponse(Struct):
    success: bool
    stopped: int


# --- profile ----------------------------------------------------------------------------------


class ProfileOut(Struct):
    id: str
    username: str
    email: str | None
    avatar_url: str | None
    is_active: bool
    last_login_at: str | None
    created_at: str
    updated_at: str


class ProfileResponse(Struct):
    success: bool
    profile: ProfileOut


class ProfileUpdate(Struct, forbid_unknown_fields=True):
    username: str | UnsetType = UNSET
    avatar_url: str | UnsetType | None = UNSET


# --- system -----------------------------------------------------------------------------------


class HealthResponse(Struct):
    status: str
    checks: dict[str, str]
