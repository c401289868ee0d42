"""The Auth service: GoTrue's HTTP interface over auth.users."""

from __future__ import annotations

from localbase.gateway import Context
from localbase.http import Receive, Scope, Send, respond_json


class AuthService:
    def __init__(self, context: Context) -> None:
        self.context = context

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"code": 404, "error_code": "not_found", "msg": "not implemented yet"}
        await respond_json(send, 404, body)
