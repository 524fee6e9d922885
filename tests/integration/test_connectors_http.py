"""Every HTTP connector against the real broker: the answer comes after the acknowledgement, the
record is on its topic (read back with a consumer), a retry makes the same record id, and a broker
that does not acknowledge gets the caller a 503."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from connectors.http.app import build_app
from connectors.http.context import ConnectorContext
from connectors.http.metrics import ConnectorMetrics
from connectors.http.publish import KafkaPublisher
from connectors.http.tokens import LinkClaims
from connectors.http.unsubscribe import record_id
from streams import topics
from streams.devtools.ports import free_port
from streams.runtime.admin import ensure_topics
from streams.serdes import codec_for
from tests.gatekit import OutputReader
from tests.integration.connectors_support import (
    SENDGRID_KEY,
    SITE_KEY,
    TWILIO_TOKEN,
    connector_settings,
)


@pytest.fixture
def settings(kafka_stack, unique_name):
    name = unique_name("conn")
    base = kafka_stack.settings(app_id=f"{name}-app", topic_prefix=f"{name}.", partitions=3)
    made = connector_settings(base)
    ensure_topics(made)
    return made


@pytest.fixture
async def served(settings) -> AsyncIterator[tuple[TestClient[Any, Any], ConnectorContext, Any]]:
    codec = codec_for(settings, register=True)
    ctx = ConnectorContext.from_settings(
        settings, KafkaPublisher.for_settings(settings, codec), ConnectorMetrics()
    )
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    readers: list[OutputReader] = []

    def reader(spec: topics.TopicSpec) -> OutputReader:
        made = OutputReader(settings, codec, spec)
        readers.append(made)
        return made

    yield client, ctx, reader
    await client.close()
    for made in readers:
        made.close()


async def test_one_click_unsubscribe_is_on_the_optout_topic_once_answered(served):
    client, ctx, reader = served
    token = ctx.unsubscribe_tokens.issue(LinkClaims("carol@example.com", "email", "company", "US"))
    for _ in range(2):  # a client that retries
        answer = await client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status == 200
    optouts = reader(topics.OPTOUT)
    optouts.wait_for_count(2, timeout=30)
    assert {r["id"] for r in optouts.records} == {record_id(token, "one_click")}
    record = optouts.records[0]
    assert (record["address"], record["party"], record["method"]) == (
        "carol@example.com",
        "company",
        "one_click",
    )


async def test_sms_stop_puts_the_optout_and_the_confirmation_intent_on_their_topics(served):
    client, ctx, reader = served
    form = {"MessageSid": "SMit0001", "From": "+14155550177", "To": "+14155550100", "Body": "STOP"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{ctx.public_url}/sms", form)
    headers = {"X-Twilio-Signature": signature}
    assert (await client.post("/sms", data=form, headers=headers)).status == 200
    optouts, intents = reader(topics.OPTOUT), reader(topics.INTENTS)
    optouts.wait_for_ids(["sms-SMit0001"], timeout=30)
    intents.wait_for_ids(["sms-SMit0001-confirm"], timeout=30)
    assert optouts.records[0]["method"] == "sms_keyword"
    assert intents.records[0]["category"] == "optout_confirmation"


async def test_sendgrid_complaint_is_an_optout_from_every_party(served):
    client, _, reader = served
    body = json.dumps(
        [{"email": "dave@example.com", "event": "spamreport", "timestamp": 1780000000,
          "sg_event_id": "it-ev-1"}]
    )  # fmt: skip
    stamp = "1780000000"
    signature = base64.b64encode(
        SENDGRID_KEY.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    ).decode()
    answer = await client.post(
        "/sendgrid/events",
        data=body,
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )
    assert answer.status == 200
    optouts = reader(topics.OPTOUT)
    optouts.wait_for_ids(["sg-it-ev-1"], timeout=30)
    assert optouts.records[0]["party"] is None and optouts.records[0]["method"] == "complaint"


async def test_consent_grant_and_confirm_are_on_the_consent_topic(served):
    client, _, reader = served
    granted = await client.post(
        "/consent",
        json={"email": "erin@example.com", "form_version": "v1", "notice_text": "Offers by email."},
        headers={"Authorization": f"Bearer {SITE_KEY}"},
    )
    assert granted.status == 201
    answer = await granted.json()
    path = "/consent/confirm/" + answer["confirm_url"].rsplit("/", 1)[1]
    assert (await client.post(path, data={"confirm": "yes"})).status == 200
    consents = reader(topics.CONSENT)
    consents.wait_for_ids([answer["id"], f"confirm-{answer['id']}"], timeout=30)
    assert sorted(r["action"] for r in consents.records) == ["confirm", "grant"]
    assert all(r["evidence"]["source"] for r in consents.records)


async def test_no_acknowledgement_means_503_and_no_success_claimed(settings):
    # a broker address where nothing listens: the record can never be acknowledged
    unreachable = settings.replace(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    codec = codec_for(settings, register=True)  # the registry is real; only the broker is gone
    publisher = KafkaPublisher.for_settings(unreachable, codec, timeout_s=2.0)
    ctx = ConnectorContext.from_settings(unreachable, publisher, ConnectorMetrics())
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    assert ctx.unsubscribe_tokens is not None
    try:
        token = ctx.unsubscribe_tokens.issue(LinkClaims("f@example.com", "email", "company", "US"))
        answer = await client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status == 503
        assert ctx.metrics.value("unsubscribe", "publish_failed") == 1
        assert ctx.metrics.value("unsubscribe", "recorded") == 0
    finally:
        await client.close()
