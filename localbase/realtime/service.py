"""The Realtime service: Phoenix websocket channels and the broadcast REST API."""

from __future__ import annotations

from localbase.gateway import Context
from localbase.http import Receive, Scope, Send, respond_json


class RealtimeService:
    def __init__(self, context: Context) -> None:
        self.context = context

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4004})
            return
        await respond_json(send, 404, {"message": "not implemented yet"})
