"""A local venue simulator: the Polymarket market channel and REST over real loopback sockets.

Modules: ``server`` (``VenueServer``, the composition), ``replay`` (venue clock and frame
scheduling), ``books`` (the venue's per-token book state), ``hub`` (connections, subscriptions,
routing, send queues), ``rest`` (Gamma / CLOB / control endpoints), ``faults`` (fault
injection), ``httpio`` (HTTP bodies and JSON responses on the WebSocket port).

The simulator never imports ``clobflow.venues``: it writes the venue's wire JSON itself.
"""

from clobflow.sim.venue.faults import KINDS as FAULT_KINDS
from clobflow.sim.venue.faults import FaultError
from clobflow.sim.venue.server import WS_PATH, VenueServer

__all__ = ["FAULT_KINDS", "WS_PATH", "FaultError", "VenueServer"]
