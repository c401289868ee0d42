"""A refused join of the answer stream says why: the routes check the token unexpired just before
joining, but it can expire in the milliseconds of the join, and Realtime (no clock skew) then
refuses the channel. That is TokenExpired (401 / close 4401: renew the token), not an outage (503
/ 1013: try later with the same token, which fails again). A join refused with a valid token (a
session that is not the caller's) stays UpstreamUnavailable: the routes check the session first."""

from __future__ import annotations

import time

import httpx
import pytest

from api.errors import ApiError, TokenExpired, UpstreamUnavailable
from api.replies import ReplyFeed
from api.security import CurrentUser
from tests.api.conftest import ApiUser, new_session, token_expiring_at
from tests.conftest import LocalStack


def _user(who: ApiUser, stack: LocalStack, exp: int) -> CurrentUser:
    token = token_expiring_at(who, stack.jwt_secret, exp)
    return CurrentUser(id=who.id, token=token, email=who.email, claims={"sub": who.id, "exp": exp})


async def _join(stack: LocalStack, user: CurrentUser, session_id: str) -> None:
    async with ReplyFeed(f"{stack.url}/realtime/v1", stack.anon_key, user, session_id, 5.0):
        pass


async def test_a_join_refused_for_an_expired_token_is_token_expired(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser
) -> None:
    session = await new_session(http, alice)
    await _join(stack, _user(alice, stack, int(time.time()) + 600), str(session["id"]))  # joins
    with pytest.raises(TokenExpired) as refused:
        await _join(stack, _user(alice, stack, int(time.time()) - 1), str(session["id"]))
    assert (refused.value.status, refused.value.ws_close) == (401, 4401)


async def test_a_join_refused_with_a_valid_token_is_an_upstream_refusal(
    http: httpx.AsyncClient, stack: LocalStack, alice: ApiUser, bob: ApiUser
) -> None:
    session = await new_session(http, alice)
    with pytest.raises(ApiError) as refused:
        await _join(stack, _user(bob, stack, int(time.time()) + 600), str(session["id"]))
    assert type(refused.value) is UpstreamUnavailable
