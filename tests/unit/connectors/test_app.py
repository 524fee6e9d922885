"""The connectors' application: which routes exist, health, metrics, settings parsing."""

from __future__ import annotations

import pytest

from connectors.http.app import enabled_connectors
from connectors.http.context import ConnectorContext, parse_sms_senders
from connectors.http.metrics import ConnectorMetrics
from tests.unit.connectors.conftest import FakePublisher, settings


async def test_live_and_metrics(app):
    client, ctx = app
    assert (await client.get("/live")).status == 200
    ctx.metrics.count("sms", "ignored")
    text = await (await client.get("/metrics")).text()
    assert 'consentgate_connector_requests_total{connector="sms",outcome="ignored"} 1.0' in text


async def test_a_connector_without_its_secret_is_not_served(make_client, publisher):
    client, ctx = await make_client(
        unsubscribe_keys="", twilio_auth_token="", consent_api_keys="", sendgrid_public_key=""
    )
    assert enabled_connectors(ctx) == []
    for method, path in [
        ("GET", "/u/x"),
        ("POST", "/u/x"),
        ("POST", "/sms"),
        ("POST", "/sendgrid/events"),
        ("POST", "/consent"),
        ("GET", "/consent/confirm/x"),
    ]:
        assert (await client.request(method, path)).status == 404, path


async def test_confirmation_links_work_without_the_capture_endpoint(make_client):
    client, ctx = await make_client(consent_api_keys="")
    assert "consent-confirm" in enabled_connectors(ctx)
    assert (await client.post("/consent", json={})).status == 404
    assert (await client.get("/consent/confirm/bad")).status == 400


def test_sms_sender_map_is_normalized_and_checked():
    assert parse_sms_senders(" +1 (415) 555-0100=acme , +442071838750=uk-co") == {
        "+14155550100": "acme",
        "+442071838750": "uk-co",
    }
    assert parse_sms_senders("") == {}
    with pytest.raises(ValueError):
        parse_sms_senders("+14155550100")
    with pytest.raises(ValueError):
        parse_sms_senders("12=acme")


def test_bad_keys_refuse_to_start():
    with pytest.raises(ValueError, match="shorter"):
        ConnectorContext.from_settings(
            settings(unsubscribe_keys="k:short"), FakePublisher(), ConnectorMetrics()
        )


def test_secrets_are_masked_where_settings_are_shown():
    from streams.settings import current_values

    shown = current_values(settings())
    for env in (
        "CONSENTGATE_UNSUBSCRIBE_KEYS",
        "CONSENTGATE_TWILIO_AUTH_TOKEN",
        "CONSENTGATE_CONSENT_API_KEYS",
    ):
        assert shown[env] == "***", env
    assert "secret" not in repr(settings())
