"""realtime-py's parsing of server messages, without its union's failed tries.

realtime-py (2.34) parses every message it reads with `TypeAdapter` over a plain union of its nine
message models. Pydantic validates such a union in "smart" mode: it tries the members one after
another, and every member that does not match builds its whole error report (each missing field
of each nested payload model) before the next is tried. A question's postgres_changes event, the
7th member, took ~90 µs to parse this way against ~7 µs for its own model alone: most of the time
the worker's reader spends on an event, on the first token's path and in every burst.

Each member already names its message with a distinct `event` literal, so the same union with
`event` as its discriminator picks the one member to validate. It accepts exactly the same
messages and builds the same objects (a message can only ever match the member its `event`
names); what it rejects still raises `ValidationError`, which realtime-py logs and skips as
before. `install()` puts that adapter where realtime-py's reader looks it up (a module global read
at each message), once per process; tests/worker/test_realtime_parse.py holds the equivalence
over every kind of message the gateway sends, and fails if realtime-py stops reading that global.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from realtime._async import client as realtime_client
from realtime.message import ServerMessage

DISCRIMINATED: TypeAdapter[Any] = TypeAdapter(Annotated[ServerMessage, Field(discriminator="event")])


def install() -> None:
    """Make realtime-py's reader parse with `DISCRIMINATED` (idempotent)."""
    realtime_client.ServerMessageAdapter = DISCRIMINATED  # type: ignore[attr-defined]
