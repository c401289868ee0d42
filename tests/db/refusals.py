"""Reading a refusal the database raised through `raise_refusal` (PostgREST's `PGRST` error): the
HTTP status, our code and the details REST would answer with."""

from __future__ import annotations

import json

import asyncpg


def refusal(exc: BaseException) -> tuple[int, str, dict[str, object]]:
    assert isinstance(exc, asyncpg.PostgresError), exc
    assert exc.sqlstate == "PGRST", exc
    body = json.loads(str(exc.args[0]) if exc.args else "")
    control = json.loads(getattr(exc, "detail", "") or "")
    return int(control["status"]), str(body["code"]), {**json.loads(body["details"]), **control["headers"]}
