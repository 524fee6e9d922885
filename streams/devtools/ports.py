"""A free TCP port on the loopback interface, for a worker's web server or a test's stack.

One helper for the benchmark and the tests. The port is drawn at random from below the kernel's
ephemeral range, never from it: a port the OS hands out for `bind(0)` is also what it hands out
for outgoing connections, so between our probe and the server's bind a broker's own client
connection could take it (seen in CI: the registry of a test stack found its port "in use").
Ports below that range are taken only by explicit binds. Another process may still bind the same
port first; the callers accept that small race.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# IANA's dynamic range starts here; used where the kernel does not say.
DEFAULT_EPHEMERAL_LOW = 32768
# Below this are well-known and commonly configured service ports (9092, 8081, 19092, ...).
LOWEST = 20000
_ATTEMPTS = 200


def ephemeral_low(range_file: Path = EPHEMERAL_RANGE_FILE) -> int:
    """The first port of the kernel's ephemeral range (the default when unreadable)."""
    try:
        first = range_file.read_text().split()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return DEFAULT_EPHEMERAL_LOW


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(rng: random.Random | None = None, range_file: Path = EPHEMERAL_RANGE_FILE) -> int:
    """A loopback port nothing listens on right now, outside the ephemeral range."""
    pick = rng or random.SystemRandom()
    high = ephemeral_low(range_file)
    if high - LOWEST >= 1000:
        for _ in range(_ATTEMPTS):
            port = pick.randrange(LOWEST, high)
            if _bindable(port):
                return port
    # A kernel whose ephemeral range starts low leaves no room below it: let the OS choose.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
