"""The REST service: PostgREST's HTTP interface over the product database."""

from __future__ import annotations

from localbase.gateway import Context
from localbase.http import Receive, Scope, Send, respond_json


class RestService:
    def __init__(self, context: Context) -> None:
        self.context = context

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"code": "PGRST000", "message": "not implemented yet", "details": None, "hint": None}
        await respond_json(send, 404, body)
