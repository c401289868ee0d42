"""Joining a topic on one socket: join, leave, token refresh and expiry (spec 4.3, 4.7).

Join order: the socket's channel limit (max_channels_per_client, checked before the token as
Realtime does), verify the token, authorize a private read, read the broadcasts a replay asks for
(replay.py), register (broadcast and presence; no postgres_changes binding yet), reply with the
bindings as sent plus their ids, send the replayed broadcasts, then the bindings' check against
their tables: only bindings that pass are matched from then on, with the "Subscribed to
PostgreSQL" system message (as Realtime stores a subscription only once checked), then, for a join
that asked for it (`broadcast.replication_ready`), "Replication connection established", then
presence_state: the order in which Realtime's channel handles what its join queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localbase.realtime import bindcheck, protocol, replay
from localbase.realtime.connection import READS_ALL, Channel, Connection
from localbase.realtime.filter_text import BindingError
from localbase.realtime.filters import Binding, PatternBudget, parse_binding
from localbase.realtime.tokens import TokenError, expiry_message, unexpired, verify

if TYPE_CHECKING:
    from localbase.realtime.ports import Realtime

_BROADCAST_ONLY = frozenset({"broadcast"})


async def join(service: Realtime, conn: Connection, frame: protocol.Frame) -> None:
    payload = frame.payload if isinstance(frame.payload, dict) else {}
    config = payload.get("config")
    if frame.topic in conn.channels:
        await close(service, conn.channels[frame.topic], notify=False)
    if frame.topic == "realtime:" or not frame.topic.startswith("realtime:"):
        await conn.reply(frame, "error", {"reason": "You must provide a topic name"})
        return
    malformed = _malformed(config)
    if malformed is not None:
        await conn.reply(frame, "error", {"reason": f"Invalid join payload: {malformed}"})
        return
    config = _with_defaults(config)
    if len(conn.channels) >= service.max_channels_per_client:
        await conn.reply(frame, "error", {"reason": "ChannelRateLimitReached: Too many channels"})
        return
    try:
        claims = _claims(service, conn, payload)
    except TokenError as exc:
        await conn.reply(frame, "error", {"reason": exc.reason})
        return
    channel = Channel(conn, frame.topic, frame.join_ref, config, claims)
    if channel.private:
        channel.reads = await _readable(service, channel, claims)
        if not channel.reads & _asked(channel):
            reason = f"Unauthorized: You do not have permissions to read from this Channel topic: {channel.name}"
            await conn.reply(frame, "error", {"reason": reason})
            return
    replayed: list[str] = []
    if (asked := replay.asked(config)) is not replay.NOT_ASKED:
        refused = replay.refusal(channel, asked)
        if refused is not None:
            await conn.reply(frame, "error", {"reason": refused})
            return
        replayed = await replay.stored(service.catalog.pool, channel, asked)
    specs: list[dict[str, Any]] = config["postgres_changes"]
    failed: Binding | None = None
    problem: str | None = None
    budget = PatternBudget()  # what this join's patterns may cost to compile, all together
    for spec in specs:
        try:
            binding = _unparsed(spec) if failed is not None else parse_binding(spec, budget)
        except BindingError as exc:
            binding = failed = _unparsed(spec)
            problem = str(exc)
        channel.requested.append(binding)
    if failed is not None and problem is not None:
        channel.unparsed = (failed, problem)
    channel.bindings = []  # none matches a change until the tables have passed them (below)
    conn.channels[frame.topic] = channel
    service.hub.add(channel)
    service.watch_expiry(channel)
    reply = [{**spec, "id": binding.id} for spec, binding in zip(specs, channel.requested, strict=True)]
    await conn.reply(frame, "ok", {"postgres_changes": reply})
    for stored in replayed:
        await conn.deliver(stored)
    if channel.requested:
        failed, problem = await _refusal(service, channel, channel.role)
        if conn.channels.get(frame.topic) is not channel:
            return  # left, rejoined or closed while its bindings were checked
        if failed is None:
            service.hub.remove(channel)
            channel.bindings = list(channel.requested)
            service.hub.add(channel)
        await channel.connection.deliver(_verdict(channel, failed, problem))
    if _replication_ready_asked(config):
        # The gateway's change stream (its LISTEN connection) is up from its start and comes back by
        # itself after a loss, which its subscribers are told of (`_change_gap`): ready at once.
        await conn.deliver(channel.system("ok", "Replication connection established"))
    if channel.presence_enabled:  # last, as Realtime's channel handles its :sync_presence
        await service.presence.send_state(channel)


def _replication_ready_asked(config: dict[str, Any]) -> bool:
    """`broadcast.replication_ready`, read raw as Realtime reads it: any value but null and false."""
    value = (config.get("broadcast") or {}).get("replication_ready")
    return value is not None and value is not False


async def _readable(service: Realtime, channel: Channel, claims: dict[str, Any]) -> frozenset[str]:
    """What a private channel may read with `claims`: its presence read is asked only once presence
    is enabled (at join, or by its own track: presence.py), as Realtime leaves it unevaluated
    before, and a presence diff is sent to no channel whose presence read was not asked."""
    reads = await service.authz.readable(claims, channel.name)
    return reads if channel.presence_enabled else reads - {"presence"}


def _asked(channel: Channel) -> frozenset[str]:
    """The reads a private join stands on, as Realtime checks them: broadcast, and presence when
    the join enables it (a join that may read presence alone is refused unless it does)."""
    return READS_ALL if channel.presence_enabled else _BROADCAST_ONLY


def _unparsed(spec: dict[str, Any]) -> Binding:
    """A binding's place in the join's reply, its filter not read: the channel's bindings fail
    together (`_refusal`), so once one has failed nothing after it is compiled."""
    return parse_binding({"event": "*", "schema": spec.get("schema"), "table": spec.get("table")})


def _malformed(config: Any) -> str | None:
    """What in a join's `config` fails Realtime's join, or None. Realtime reads the config and its
    broadcast from the raw payload (its replication_ready opt-in), so either, present and not a map,
    raises there; so does a postgres_changes entry that is not a map (null ones it drops)."""
    if config is None:
        return None
    if not isinstance(config, dict):
        return "config must be an object"
    if config.get("broadcast") is not None and not isinstance(config["broadcast"], dict):
        return "config.broadcast must be an object"
    changes = config.get("postgres_changes")
    if isinstance(changes, list) and any(not isinstance(c, dict) for c in changes if c is not None):
        return "config.postgres_changes must be an array of objects"
    return None


def _with_defaults(config: dict[str, Any] | None) -> dict[str, Any]:
    """The config as Realtime joins with it once validated (Join.validate logs what it cannot read
    and takes its default): presence that is not a map is presence off, postgres_changes that is
    not an array no binding; booleans are read by `flag`."""
    config = dict(config or {})
    if not isinstance(config.get("presence"), dict):
        config["presence"] = {}
    changes = config.get("postgres_changes")
    config["postgres_changes"] = [c for c in changes if c is not None] if isinstance(changes, list) else []
    return config


def _claims(service: Realtime, conn: Connection, payload: dict[str, Any]) -> dict[str, Any]:
    """The join's own token's claims, else the socket's, checked again for expiry (a socket
    outlives its handshake token; its joins do not)."""
    token = payload.get("access_token") or payload.get("user_token")
    if not isinstance(token, str) or not token or token.startswith("sb_"):
        return unexpired(conn.claims)
    return verify(token, service.keys)


async def _refusal(service: Realtime, channel: Channel, role: str) -> tuple[Binding | None, str | None]:
    """The first of the channel's bindings the tables refuse `role`, and why (None: a table not
    published), or (None, None). Realtime stores a channel's bindings in one transaction, so they
    fail together; it does so at join and again with the new claims after an `access_token`."""
    if channel.unparsed is not None:
        return channel.unparsed
    for binding in channel.requested:
        if (
            binding.table is not None
            and binding.schema != "*"
            and not await service.catalog.is_published(binding.schema, binding.table)
        ):
            return binding, None
        problem = await bindcheck.refusal(service.catalog, binding, role)
        if problem is not None:
            return binding, problem
    return None, None


def _verdict(channel: Channel, failed: Binding | None, problem: str | None) -> str:
    """The asynchronous `system` message clients wait for before writing."""
    if failed is None:
        return channel.system("ok", "Subscribed to PostgreSQL", "postgres_changes")
    if problem is None:
        text = (
            "Unable to subscribe to changes with given parameters. Please check Realtime is enabled "
            f"for the given connect parameters: {failed.describe()}"
        )
    else:
        text = (
            "Unable to subscribe to changes with given parameters. An exception happened so please "
            f"check your connect parameters: {failed.describe()}. Exception: {problem}"
        )
    return channel.system("error", text, "postgres_changes")


async def leave(service: Realtime, conn: Connection, frame: protocol.Frame) -> None:
    channel = conn.channels.get(frame.topic)
    await conn.reply(frame, "ok", {})
    if channel is not None:
        await close(service, channel, notify=True)


async def refresh_token(service: Realtime, channel: Channel, payload: Any) -> None:
    """`access_token`: no reply; new claims on success, system error and close on failure."""
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or token.startswith("sb_"):
        return
    try:
        claims = verify(token, service.keys)
    except TokenError as exc:
        await fail(service, channel, exc.message)
        return
    if claims == channel.claims:
        return  # the token it has (Realtime ignores it unread)
    reads = channel.reads
    if channel.private:
        # Any read the channel stood on that the new claims lose closes it (Realtime compares the
        # read policies before and after); reads it gains are kept.
        reads = await _readable(service, channel, claims)
        if (channel.reads & _asked(channel)) - reads:
            message = f"You no longer have permission to read from this Channel topic: {channel.name}"
            await fail(service, channel, message)
            return
    # Realtime stores the bindings again with the new claims, its subscription check run as their
    # role: "Subscribed to PostgreSQL" again, or the check's error. Checked before the swap, so no
    # change is matched for the new role by a binding it may not hold. On an error Realtime's
    # rolled-back update leaves the rows with the old claims; here the bindings stop instead (the
    # old claims' role must not go on reading for the new token), as a refused join's do.
    failed, problem = await _refusal(service, channel, str(claims.get("role", "anon")))
    if channel.connection.channels.get(channel.topic) is not channel:
        return  # closed while checked (its old token expired): not registered again
    service.hub.remove(channel)
    channel.reads = reads
    channel.set_claims(claims)
    channel.bindings = list(channel.requested) if failed is None else []
    service.hub.add(channel)
    service.watch_expiry(channel)
    if channel.requested:
        await channel.connection.deliver(_verdict(channel, failed, problem))


async def expire(service: Realtime, channel: Channel) -> None:
    await fail(service, channel, expiry_message(channel.claims))


async def fail(service: Realtime, channel: Channel, message: str) -> None:
    """Stop a channel the server no longer allows: `system` error, then `phx_close`."""
    await channel.connection.deliver(channel.system("error", message))
    await close(service, channel, notify=True)


async def close(service: Realtime, channel: Channel, notify: bool) -> None:
    conn = channel.connection
    if conn.channels.get(channel.topic) is channel:
        del conn.channels[channel.topic]
    service.hub.remove(channel)
    await service.presence.forget(channel)
    if notify:
        ref = channel.join_ref
        await conn.deliver(protocol.encode_message(channel.topic, "phx_close", {}, ref, ref, conn.vsn))
