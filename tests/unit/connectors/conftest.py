"""Connector unit tests: the real aiohttp application in-process, a publisher that keeps records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.http.app import build_app
from connectors.http.context import ConnectorContext
from connectors.http.metrics import ConnectorMetrics
from connectors.http.publish import PublishFailed
from streams.settings import Settings

KEYS = "k2:second-secret-0123456789,k1:first-secret-0123456789"
START = 1_780_000_000.0  # 2026-05-28


class FakePublisher:
    """Keeps what it was given; `fail` makes it refuse as an unacknowledged publish does."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = False
        self.closed = False

    async def publish(self, records: Sequence[Mapping[str, Any]]) -> None:
        if self.fail:
            raise PublishFailed("not acknowledged (test)")
        self.records.extend(dict(r) for r in records)

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings(**changes: Any) -> Settings:
    base = {
        "unsubscribe_keys": KEYS,
        "consent_api_keys": "site-key-1",
        "twilio_auth_token": "twilio-test-token",
        "sms_senders": "+14155550100=acme-partner",
    }
    base.update(changes)
    return Settings().replace(**base)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_client(publisher, clock):
    """`await make_client(**settings changes)` → (client, context) on a fresh app."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**changes: Any) -> tuple[TestClient[Any, Any], ConnectorContext]:
        ctx = ConnectorContext.from_settings(
            settings(**changes), publisher, ConnectorMetrics(), clock=clock
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(ctx)))
        await client.start_server()
        clients.append(client)
        return client, ctx

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def app(make_client) -> tuple[TestClient[Any, Any], ConnectorContext]:
    """A client on the app with every connector but SendGrid enabled, and its context."""
    made: tuple[TestClient[Any, Any], ConnectorContext] = await make_client()
    return made
