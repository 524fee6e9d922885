"""Inbound SMS webhook: Twilio signatures, keywords into records, TwiML answers, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from twilio.request_validator import RequestValidator

TOKEN = "twilio-test-token"
OWN_NUMBER = "+14155550100"  # mapped to acme-partner in conftest
OTHER_NUMBER = "+14155550199"  # not mapped: the first party's
PHONE = "+14155550124"


def params(body: str, sid: str = "SM0001", to: str = OWN_NUMBER, **more: str) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC1", "From": PHONE, "To": to, "Body": body, **more}


async def send(client: Any, form: dict[str, str], *, url: str | None = None, token: str = TOKEN):
    """POST as Twilio does: signed over the URL it called and every parameter."""
    signed_for = url or str(client.make_url("/sms"))
    signature = RequestValidator(token).compute_signature(signed_for, form)
    return await client.post("/sms", data=form, headers={"X-Twilio-Signature": signature})


async def test_stop_opts_out_from_the_numbers_party_and_asks_the_gate_for_a_confirmation(
    app, publisher
):
    client, ctx = app
    response = await send(client, params("Stop please"))
    assert response.status == 200
    assert (await response.text()).endswith("<Response></Response>")  # we send nothing ourselves
    optout, intent = publisher.records
    assert optout == {
        "type": "optout",
        "id": "sms-SM0001",
        "at": ctx.now(),
        "channel": "sms",
        "address": PHONE,
        "party": "acme-partner",
        "method": "sms_keyword",
        "jurisdiction": "US",
    }
    assert intent["type"] == "intent" and intent["category"] == "optout_confirmation"
    assert intent["id"] == "sms-SM0001-confirm" and intent["sender"] == "acme-partner"
    assert intent["address"] == PHONE and intent["at"] >= optout["at"]
    assert ctx.metrics.value("sms", "recorded") == 1


async def test_a_number_not_mapped_belongs_to_the_first_party(app, publisher):
    client, _ = app
    await send(client, params("STOP", to=OTHER_NUMBER))
    assert publisher.records[0]["party"] == "company"


async def test_stopall_opts_out_from_every_party(app, publisher):
    client, _ = app
    await send(client, params("STOPALL"))
    assert publisher.records[0]["party"] is None
    assert publisher.records[1]["sender"] == "acme-partner"


async def test_a_french_stop_is_confirmed_in_french(app, publisher):
    client, _ = app
    await send(client, params("Arrêt", FromCountry="CA"))
    optout, intent = publisher.records
    assert optout["jurisdiction"] == "CA"
    assert "désinscrit" in intent["body"]


async def test_start_records_a_grant_with_sms_keyword_evidence(app, publisher):
    client, _ = app
    await send(client, params("START", sid="SM0002"))
    [grant] = publisher.records
    assert grant["type"] == "consent" and grant["action"] == "grant"
    assert grant["id"] == "sms-SM0002" and grant["party"] == "acme-partner"
    assert grant["purpose"] == "marketing"
    assert grant["evidence"]["source"] == "sms_keyword"
    assert grant["evidence"]["message_sid"] == "SM0002"


async def test_help_answers_the_configured_text_as_twiml_and_records_nothing(
    make_client, publisher
):
    client, ctx = await make_client(sms_help_text="Acme: reply STOP to end <all> & START")
    response = await send(client, params("HELP"))
    assert response.status == 200 and response.content_type == "application/xml"
    text = await response.text()
    assert "<Message>Acme: reply STOP to end &lt;all&gt; &amp; START</Message>" in text
    assert publisher.records == []
    assert ctx.metrics.value("sms", "help") == 1


async def test_other_messages_record_nothing(app, publisher):
    client, ctx = app
    response = await send(client, params("what are your opening hours?"))
    assert response.status == 200 and publisher.records == []
    assert ctx.metrics.value("sms", "ignored") == 1


@pytest.mark.parametrize("how", ["wrong token", "tampered body", "no header"])
async def test_a_bad_signature_gets_403_and_records_nothing(app, publisher, how):
    client, ctx = app
    form = params("STOP")
    if how == "wrong token":
        response = await send(client, form, token="not-the-token")
    elif how == "tampered body":
        signature = RequestValidator(TOKEN).compute_signature(str(client.make_url("/sms")), form)
        form["From"] = "+14155550999"
        response = await client.post("/sms", data=form, headers={"X-Twilio-Signature": signature})
    else:
        response = await client.post("/sms", data=form)
    assert response.status == 403
    assert publisher.records == []
    assert ctx.metrics.value("sms", "bad_signature") == 1


async def test_behind_a_proxy_the_public_url_is_what_is_signed(make_client, publisher):
    client, _ = await make_client(public_url="https://hooks.example.com/")
    public = "https://hooks.example.com/sms"
    assert (await send(client, params("STOP"), url=public)).status == 200
    assert (await send(client, params("STOP", sid="SM9"))).status == 403  # the internal URL
    assert [r["id"] for r in publisher.records] == ["sms-SM0001", "sms-SM0001-confirm"]


async def test_a_redelivered_message_makes_the_same_records(app, publisher):
    client, _ = app
    await send(client, params("STOP"))
    await send(client, params("STOP"))
    assert [r["id"] for r in publisher.records] == [
        "sms-SM0001",
        "sms-SM0001-confirm",
        "sms-SM0001",
        "sms-SM0001-confirm",
    ]


async def test_not_acknowledged_means_503(app, publisher):
    client, ctx = app
    publisher.fail = True
    assert (await send(client, params("STOP"))).status == 503
    assert ctx.metrics.value("sms", "publish_failed") == 1


async def test_missing_sender_is_a_bad_request(app, publisher):
    client, _ = app
    form = params("STOP")
    del form["From"]
    assert (await send(client, form)).status == 400
    assert publisher.records == []
