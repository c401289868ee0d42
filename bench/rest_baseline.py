"""The baseline the REST layer is measured against: a minimal hand-written Litestar + asyncpg app
doing the same RLS queries (set role and claims in their own statement, then the same SELECT or
INSERT) with a JWT verified per request. Run by bench/rest_bench.py:

    python -m bench.rest_baseline <port> <dsn> <jwt secret>
"""

from __future__ import annotations

import sys
from typing import Any

import asyncpg
import jwt
import jwt.utils
import uvicorn
from litestar import Litestar, Request, Response, get, post

_SETUP = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)"
_ONE = "select coalesce(json_agg(t), '[]')::text from (select * from public.chat_sessions where id = $1::uuid) t"
_PAGE = (
    "select coalesce(json_agg(t), '[]')::text from (select * from public.chat_sessions where is_active = true"
    " order by created_at desc limit 20) t"
)
_INSERT = "insert into public.chat_sessions (title) values ($1)"


def build(dsn: str, secret: str) -> Litestar:
    pools: dict[str, asyncpg.Pool] = {}

    async def start() -> None:
        pools["db"] = await asyncpg.create_pool(dsn, min_size=2, max_size=20)

    async def run(request: Request[Any, Any, Any], sql: str, *args: Any) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False})
        async with pools["db"].acquire() as conn, conn.transaction():
            await conn.fetchrow(_SETUP, claims["role"], jwt.utils.base64url_decode(token.split(".")[1]).decode())
            result: str | None = await conn.fetchval(sql, *args)
            return result

    @get("/chat_sessions/{session_id:str}")
    async def one(request: Request[Any, Any, Any], session_id: str) -> Response[bytes]:
        body = await run(request, _ONE, session_id)
        return Response((body or "[]").encode(), media_type="application/json")

    @get("/chat_sessions")
    async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await run(request, _PAGE)
        return Response((body or "[]").encode(), media_type="application/json")

    @post("/chat_sessions", status_code=201)
    async def insert(request: Request[Any, Any, Any]) -> Response[bytes]:
        payload = await request.json()
        await run(request, _INSERT, payload["title"])
        return Response(b"", status_code=201)

    return Litestar([one, page, insert], on_startup=[start])


if __name__ == "__main__":
    port, dsn, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(
        build(dsn, secret), host="127.0.0.1", port=port, log_level="warning", access_log=False,
        loop="uvloop", http="httptools",
    )  # fmt: skip
