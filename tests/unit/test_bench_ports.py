"""The one free_port helper hands out a bindable port outside the kernel's ephemeral range."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from streams.devtools.ports import DEFAULT_EPHEMERAL_LOW, LOWEST, ephemeral_low, free_port


def test_a_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert server.getsockname()[1] == port


def test_the_port_is_below_the_ephemeral_range_where_outgoing_connections_take_theirs() -> None:
    low = ephemeral_low()
    for _ in range(50):
        assert LOWEST <= free_port() < low


def test_a_port_in_use_is_never_handed_out(tmp_path: Path) -> None:
    # A range of 1000 ports with one bound: a fixed seed that would draw it must skip it.
    ranges = tmp_path / "range"
    ranges.write_text(f"{LOWEST + 1000}\t60999\n")
    first = random.Random(7).randrange(LOWEST, LOWEST + 1000)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first))
        holder.listen()
        port = free_port(rng=random.Random(7), range_file=ranges)
    assert port != first
    assert LOWEST <= port < LOWEST + 1000


def test_the_range_is_read_from_the_kernel_file_with_a_default(tmp_path: Path) -> None:
    ranges = tmp_path / "range"
    ranges.write_text("40000\t60999\n")
    assert ephemeral_low(ranges) == 40000
    ranges.write_text("garbage")
    assert ephemeral_low(ranges) == DEFAULT_EPHEMERAL_LOW
    assert ephemeral_low(tmp_path / "missing") == DEFAULT_EPHEMERAL_LOW
