"""SendGrid Event Webhook: ECDSA-checked batches, complaints and unsubscribes as opt-outs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def event(kind: str, n: int, **more: Any) -> dict[str, Any]:
    return {"email": f"user{n}@example.com", "timestamp": 1780000000 + n, "event": kind,
            "sg_event_id": f"ev{n}", "sg_message_id": f"msg{n}", **more}  # fmt: skip


async def post(client: Any, batch: Any, *, key: Any = PRIVATE, timestamp: str = "1780000000"):
    body = json.dumps(batch)
    signature = base64.b64encode(
        key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    ).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }
    return await client.post("/sendgrid/events", data=body, headers=headers)


@pytest.fixture
async def sg(make_client):
    return await make_client(sendgrid_public_key=PUBLIC)


async def test_complaints_and_unsubscribes_become_opt_outs_and_bounces_are_counted(sg, publisher):
    client, ctx = sg
    batch = [
        event("spamreport", 1),
        event("unsubscribe", 2),
        event("group_unsubscribe", 3, asm_group_id=7, consentgate_sender="acme-partner"),
        event("bounce", 4, type="bounce"),
        event("delivered", 5),
        event("open", 6),
    ]
    response = await post(client, batch)
    assert response.status == 200
    by_id = {r["id"]: r for r in publisher.records}
    assert set(by_id) == {"sg-ev1", "sg-ev2", "sg-ev3"}
    assert (by_id["sg-ev1"]["party"], by_id["sg-ev1"]["method"]) == (None, "complaint")
    assert (by_id["sg-ev2"]["party"], by_id["sg-ev2"]["method"]) == ("company", "unsubscribe_link")
    assert by_id["sg-ev3"]["party"] == "acme-partner"
    assert all(r["channel"] == "email" and r["jurisdiction"] == "US" for r in by_id.values())
    assert by_id["sg-ev1"]["address"] == "user1@example.com"
    assert by_id["sg-ev1"]["at"].timestamp() == 1780000001
    assert ctx.metrics.value("sendgrid", "recorded") == 3
    assert ctx.metrics.value("sendgrid", "bounce") == 1
    assert ctx.metrics.value("sendgrid", "ignored") == 2


async def test_a_retried_batch_makes_the_same_records(sg, publisher):
    client, _ = sg
    batch = [event("spamreport", 1), {k: v for k, v in event("unsubscribe", 2).items()
                                      if k != "sg_event_id"}]  # fmt: skip
    await post(client, batch)
    await post(client, batch, timestamp="1780000099")  # a retry is signed afresh
    ids = [r["id"] for r in publisher.records]
    assert ids[:2] == ids[2:] and ids[0] == "sg-ev1" and ids[1].startswith("sg-h")


@pytest.mark.parametrize("how", ["other key", "tampered", "no headers", "not base64"])
async def test_a_bad_signature_gets_403_and_records_nothing(sg, publisher, how):
    client, ctx = sg
    if how == "other key":
        response = await post(
            client, [event("spamreport", 1)], key=ec.generate_private_key(ec.SECP256R1())
        )
    elif how == "tampered":
        body = json.dumps([event("spamreport", 1)])
        good = await post(client, [event("spamreport", 2)])
        assert good.status == 200
        publisher.records.clear()
        response = await client.post(
            "/sendgrid/events",
            data=body,
            headers={
                "X-Twilio-Email-Event-Webhook-Signature": good.request_info.headers[
                    "X-Twilio-Email-Event-Webhook-Signature"
                ],
                "X-Twilio-Email-Event-Webhook-Timestamp": "1780000000",
            },
        )
    elif how == "no headers":
        response = await client.post("/sendgrid/events", data=json.dumps([event("spamreport", 1)]))
    else:
        response = await client.post(
            "/sendgrid/events",
            data="[]",
            headers={
                "X-Twilio-Email-Event-Webhook-Signature": "%%%",
                "X-Twilio-Email-Event-Webhook-Timestamp": "1",
            },
        )
    assert response.status == 403
    assert publisher.records == []
    assert ctx.metrics.value("sendgrid", "bad_signature") == 1


async def test_a_signed_body_that_is_no_event_array_is_a_bad_request(sg, publisher):
    client, _ = sg
    assert (await post(client, {"event": "spamreport"})).status == 400


async def test_not_acknowledged_means_503_and_sendgrid_retries(sg, publisher):
    client, ctx = sg
    publisher.fail = True
    assert (await post(client, [event("spamreport", 1)])).status == 503
    assert ctx.metrics.value("sendgrid", "publish_failed") == 1
