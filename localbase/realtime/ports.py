"""What joining, leaving and the socket loop need of the Realtime service, as a protocol.

channel.py and socket.py are called by the service and call back into its parts (hub, presence,
broadcast, authorizer, catalog); naming those parts here instead of importing `service` keeps the
package free of import cycles. `RealtimeService` satisfies this protocol structurally.
"""

from __future__ import annotations

from typing import Protocol

from core.jwt import KeySet
from localbase.realtime.authz import Authorizer
from localbase.realtime.broadcast import Broadcast
from localbase.realtime.catalog import Catalog
from localbase.realtime.connection import Channel, Connection
from localbase.realtime.hub import Hub
from localbase.realtime.presence import Presence


class Realtime(Protocol):
    keys: KeySet
    opaque_keys: dict[str, str]
    hub: Hub
    connections: set[Connection]
    authz: Authorizer
    presence: Presence
    broadcast: Broadcast
    catalog: Catalog
    max_channels_per_client: int

    def watch_expiry(self, channel: Channel) -> None: ...
