"""The one free_port helper hands out a port that can be bound right away."""

from __future__ import annotations

import socket

from streams.devtools.ports import free_port


def test_a_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert server.getsockname()[1] == port
