"""Tokens: refused at connect (HTTP error before upgrade) and at join; expiry while connected."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from realtime import AsyncRealtimeClient

from tests.conftest import LocalStack, channel_options
from tests.localbase.realtime.conftest import eventually, mint, subscribed, ws_url


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        ("not-a-jwt", 401, "The token provided is not a valid JWT"),
        ("expired", 401, "Token has expired"),  # Realtime's handshake gives no age, its joins do
        ("bad-signature", 401, "Failed to validate JWT signature"),
    ],
)
async def test_invalid_token_refused_at_connect(stack: LocalStack, token: str, status: int, message: str) -> None:
    if token == "expired":
        token = mint(stack, {"role": "anon", "exp": int(time.time()) - 120})
    elif token == "bad-signature":
        token = stack.anon_key[:-4] + "AAAA"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{ws_url(stack.url)}/websocket?apikey={token}&vsn=1.0.0"):
            pass
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body) == {"error": message}


async def test_expired_token_refused_at_join(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client()
    await client.set_auth(mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) - 5}))
    states: list[Any] = []
    await client.channel("expired-join").subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what="the join reply")
    assert states[0][0].value == "CHANNEL_ERROR"
    assert "InvalidJWTToken: Token has expired" in str(states[0][1])


async def test_token_expiring_while_connected_gets_system_error(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client()
    # Whole seconds: 3-4 s to connect and join first, which a busy machine has taken over 1 s to do.
    await client.set_auth(mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) + 4}))
    channel = client.channel("short-lived")
    states: list[Any] = []
    await channel.subscribe(lambda state, error: states.append((state, error)))
    await eventually(lambda: bool(states), what="the join")
    assert states[0][0].value == "SUBSCRIBED"
    await eventually(lambda: len(states) > 1, within=10, what="the expiry")
    assert states[1][0].value == "CHANNEL_ERROR"
    assert "Token has expired" in str(states[1][1])


async def test_access_token_refresh_keeps_channel(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    client = realtime_client()
    await client.set_auth(mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) + 4}))
    heard: list[Any] = []
    channel = client.channel("refreshed", channel_options(broadcast={"self": True})).on_broadcast("e", heard.append)
    await subscribed(channel)
    await client.set_auth(mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) + 3600}))
    deadline = time.monotonic() + 5
    await eventually(lambda: time.monotonic() > deadline, within=10, what="past the first token's expiry")
    await channel.send_broadcast("e", {"still": "here"})
    await eventually(lambda: bool(heard), what="the broadcast after refresh")
    assert channel.is_joined


async def test_a_join_without_a_token_after_the_sockets_token_expired_is_refused(stack: LocalStack) -> None:
    # Once accepted and authorized with the expired claims: the socket's handshake token was never
    # checked again, so a socket outlived its JWT for every later join, private ones too.
    exp = int(time.time()) + 3
    token = mint(stack, {"role": "authenticated", "sub": "x", "exp": exp})
    async with websockets.connect(f"{ws_url(stack.url)}/websocket?apikey={token}&vsn=1.0.0") as ws:

        async def join(ref: str, payload: dict[str, Any]) -> dict[str, Any]:
            await ws.send(
                json.dumps(
                    {
                        "topic": f"realtime:late-{ref}",
                        "event": "phx_join",
                        "payload": payload,
                        "ref": ref,
                        "join_ref": ref,
                    }
                )
            )
            while True:
                reply = json.loads(await ws.recv())
                if reply["ref"] == ref:
                    return dict(reply["payload"])

        assert (await join("1", {"config": {}}))["status"] == "ok"
        await eventually(lambda: time.time() > exp + 1, within=10, what="the token's expiry")
        refused = await join("2", {"config": {}})
        assert refused["status"] == "error"
        assert re.fullmatch(r"InvalidJWTToken: Token has expired \d+ seconds ago", refused["response"]["reason"])
        fresh = mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) + 3600})
        assert (await join("3", {"config": {}, "access_token": fresh}))["status"] == "ok"


async def test_a_token_long_expired_says_how_long_ago_at_join_and_on_refresh(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Past the 30 s skew REST allows, the shared JWT check refused the token before its age was
    # read, and Realtime's "Token has expired N seconds ago" became "Token has expired".
    stale = mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) - 120})
    client = realtime_client()
    joined: list[Any] = []
    channel = client.channel("stale-refresh")
    await channel.subscribe(lambda state, error: joined.append((state.value, str(error))))
    await eventually(lambda: bool(joined), what="the join")
    assert joined[0][0] == "SUBSCRIBED"
    await client.set_auth(stale)
    await eventually(lambda: len(joined) > 1, what="the channel's close")
    assert joined[1][0] == "CHANNEL_ERROR"
    assert re.search(r"Token has expired 1[2-9]\d seconds ago", joined[1][1]), joined[1][1]

    refused: list[Any] = []
    await client.channel("stale-join").subscribe(lambda state, error: refused.append((state.value, str(error))))
    await eventually(lambda: bool(refused), what="the refused join")
    assert refused[0][0] == "CHANNEL_ERROR"
    assert re.search(r"InvalidJWTToken: Token has expired 1[2-9]\d seconds ago", refused[0][1]), refused[0][1]


async def test_a_join_with_a_forged_token_names_the_signature(
    stack: LocalStack, realtime_client: Callable[..., AsyncRealtimeClient]
) -> None:
    # Realtime answers a token whose signature fails with JwtSignatureError (join's reason), not
    # InvalidJWTToken, which it keeps for an expired token or one without role and exp.
    token = mint(stack, {"role": "authenticated", "sub": "x", "exp": int(time.time()) + 3600})
    forged = token[:-4] + ("BBBB" if token.endswith("AAAA") else "AAAA")
    client = realtime_client()
    await client.set_auth(forged)
    refused: list[Any] = []
    await client.channel("forged-join").subscribe(lambda state, error: refused.append((state.value, str(error))))
    await eventually(lambda: bool(refused), what="the refused join")
    assert refused[0][0] == "CHANNEL_ERROR"
    assert "JwtSignatureError: Failed to validate JWT signature" in refused[0][1], refused[0][1]


async def test_the_x_api_key_header_is_the_sockets_token_before_the_apikey_parameter(stack: LocalStack) -> None:
    # Realtime's UserSocket takes the `x-api-key` header when there is one, the `apikey`
    # parameter only without it. Ours took the parameter: a socket carrying the project's anon key
    # as `apikey` (as the gateway wants it) and its token in `x-api-key` was the anon role's.
    url = f"{ws_url(stack.url)}/websocket?apikey={stack.anon_key}&vsn=1.0.0"
    headers = {"x-api-key": stack.service_role_key}
    async with websockets.connect(url, additional_headers=headers) as ws:
        join = {
            "topic": "realtime:x-api-key-only",
            "event": "phx_join",
            "payload": {"config": {"private": True}},
            "ref": "1",
            "join_ref": "1",
        }
        await ws.send(json.dumps(join))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["event"] == "phx_reply"
    assert reply["payload"]["status"] == "ok", reply
