"""A free TCP port on the loopback interface, for a worker's web server or a test's stack.

One helper for the benchmark and the tests: the OS picks the port, so parallel runs do not collide
(another process may still take it before it is bound again; the callers accept that small race).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
