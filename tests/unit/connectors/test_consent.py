"""Consent capture: the grant with its evidence, the signed link, the confirm on its POST only."""

from __future__ import annotations

import hashlib

import pytest

AUTH = {"Authorization": "Bearer site-key-1"}
NOTICE = "Yes, send me offers by email. You can unsubscribe at any time."
FORM = {
    "email": "Bob@Example.com",
    "form_version": "signup-2026-05",
    "notice_text": NOTICE,
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (test)",
}


async def grant(client, data=None, headers=None):
    return await client.post("/consent", json=data or FORM, headers={**AUTH, **(headers or {})})


async def test_a_grant_is_recorded_with_its_evidence_and_a_confirmation_link_returned(
    app, publisher
):
    client, _ctx = app
    response = await grant(client)
    assert response.status == 201
    answer = await response.json()
    [record] = publisher.records
    assert record["id"] == answer["id"]
    assert (record["type"], record["action"], record["purpose"]) == (
        "consent",
        "grant",
        "marketing",
    )
    assert (record["channel"], record["address"], record["party"]) == (
        "email",
        "bob@example.com",
        "company",
    )
    assert record["evidence"] == {
        "source": "web_form",
        "form_version": "signup-2026-05",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (test)",
        "notice_sha256": hashlib.sha256(NOTICE.encode()).hexdigest(),
        "double_opt_in": "link_sent",
    }
    assert answer["confirm_url"].startswith(str(client.make_url("/consent/confirm/")))
    assert "bob" not in answer["confirm_url"].lower()


async def test_the_link_shows_a_page_and_only_its_post_confirms(app, publisher, clock):
    client, _ctx = app
    answer = await (await grant(client)).json()
    path = "/consent/confirm/" + answer["confirm_url"].rsplit("/", 1)[1]
    page = await client.get(path, headers={"Accept-Language": "fr"})
    assert page.status == 200 and "Confirmer" in await page.text()
    assert (await client.head(path)).status == 200
    assert len(publisher.records) == 1
    clock.now += 60
    for _ in range(2):  # a double click confirms once: the same record id
        done = await client.post(path, data={"confirm": "yes"}, headers={"User-Agent": "UA/1"})
        assert done.status == 200 and "Subscription confirmed" in await done.text()
    grant_record, confirm, again = publisher.records
    assert confirm == again
    assert confirm["id"] == f"confirm-{grant_record['id']}"
    assert (confirm["action"], confirm["address"], confirm["party"]) == (
        "confirm",
        "bob@example.com",
        "company",
    )
    assert confirm["at"] > grant_record["at"]
    assert confirm["evidence"]["source"] == "double_opt_in_link"
    assert confirm["evidence"]["grant_id"] == grant_record["id"]
    assert confirm["evidence"]["user_agent"] == "UA/1"


async def test_an_unsubscribe_link_cannot_confirm(app, publisher):
    from connectors.http.tokens import LinkClaims

    client, ctx = app
    token = ctx.unsubscribe_tokens.issue(LinkClaims("bob@example.com", "email", "company", "US"))
    response = await client.post(f"/consent/confirm/{token}", data={"confirm": "yes"})
    assert response.status == 400 and publisher.records == []


async def test_an_expired_confirmation_link_records_nothing(app, publisher, clock):
    client, _ = app
    answer = await (await grant(client)).json()
    path = "/consent/confirm/" + answer["confirm_url"].rsplit("/", 1)[1]
    clock.now += 8 * 86400  # default: 7 days
    assert (await client.post(path, data={"confirm": "yes"})).status == 410
    assert len(publisher.records) == 1


@pytest.mark.parametrize("header", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_only_the_sites_backend_may_record_a_grant(app, publisher, header):
    client, ctx = app
    response = await client.post("/consent", json=FORM, headers=header)
    assert response.status == 401 and publisher.records == []
    assert ctx.metrics.value("consent", "unauthorized") == 1


@pytest.mark.parametrize(
    "change,says",
    [
        ({"email": "not an address"}, ""),
        ({"form_version": ""}, "form_version"),
        ({"notice_text": None, "notice_sha256": "abc"}, "notice"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
async def test_incomplete_evidence_is_refused(app, publisher, change, says):
    client, _ = app
    data = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    response = await grant(client, data)
    assert response.status == 400 and says in (await response.json())["error"]
    assert publisher.records == []


async def test_an_idempotency_key_makes_a_retry_the_same_grant(app, publisher):
    client, _ = app
    first = await (await grant(client, headers={"Idempotency-Key": "req-1"})).json()
    second = await (await grant(client, headers={"Idempotency-Key": "req-1"})).json()
    third = await (await grant(client)).json()
    assert first["id"] == second["id"] != third["id"]


async def test_a_form_post_works_like_json_and_takes_ip_and_agent_from_the_request(app, publisher):
    client, _ = app
    data = {k: v for k, v in FORM.items() if k not in ("ip", "user_agent")}
    response = await client.post("/consent", data=data, headers={**AUTH, "User-Agent": "UA/2"})
    assert response.status == 201
    evidence = publisher.records[0]["evidence"]
    assert evidence["user_agent"] == "UA/2" and evidence["ip"] == "127.0.0.1"


async def test_not_acknowledged_means_503_and_no_link(app, publisher):
    client, _ = app
    publisher.fail = True
    response = await grant(client)
    assert response.status == 503 and "confirm_url" not in await response.json()
