"""Workshop dashboard: a Solara app that steps :class:`sim.model.ChannelModel` live.

``sim.dashboard.app`` is the Solara page (imported by the Solara server only);
``sim.dashboard.live`` holds the plain-Python part (scenario + levers -> a model stepped in
chunks of weeks), and :func:`serve` starts the server.
"""

from sim.dashboard.server import serve

__all__ = ["serve"]
