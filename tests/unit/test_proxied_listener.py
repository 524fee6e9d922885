"""The embedded broker's optional listener behind a test's TCP proxy (fault tests, issue 13)."""

from __future__ import annotations

from pathlib import Path

from streams.devtools.localstack.kafka import render_server_properties


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")


def test_the_proxied_listener_advertises_the_proxy_port_and_the_others_are_unchanged() -> None:
    props = _props(render_server_properties(9092, 9093, Path("/d"), proxied=(9094, 9095)))
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,PROXIED://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093"
    )
    assert props["advertised.listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,PROXIED://127.0.0.1:9095,CONTROLLER://127.0.0.1:9093"
    )
    assert "PROXIED:PLAINTEXT" in props["listener.security.protocol.map"].split(",")


def test_without_a_proxy_there_is_no_extra_listener() -> None:
    text = render_server_properties(9092, 9093, Path("/d"))
    assert "PROXIED" not in text
    props = _props(text)
    assert props["listeners"] == props["advertised.listeners"]
