"""Email unsubscribe: one-click POST, the page for people, bad links, the header helper."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from aiohttp import FormData

from connectors.http.tokens import LinkClaims, LinkTokens
from connectors.http.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from connectors.producer import wire_record
from streams import topics
from tests import builders

CLAIMS = LinkClaims("alice@example.com", "email", "company", "US")
DAY = 86400


def path_for(ctx, claims=CLAIMS) -> str:
    return "/u/" + ctx.unsubscribe_tokens.issue(claims)


async def test_one_click_post_records_a_one_click_opt_out_and_answers_200_without_redirect(
    app, publisher
):
    client, ctx = app
    path = path_for(ctx)
    response = await client.post(
        path,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert response.status == 200
    assert "Location" not in response.headers and "Set-Cookie" not in response.headers
    [record] = publisher.records
    assert record["type"] == "optout" and record["method"] == "one_click"
    assert (record["channel"], record["address"], record["party"], record["jurisdiction"]) == (
        "email",
        "alice@example.com",
        "company",
        "US",
    )
    assert record["at"] == ctx.now()
    assert ctx.metrics.value("unsubscribe", "recorded") == 1


async def test_one_click_as_multipart_form_data_counts_too(app, publisher):
    client, ctx = app
    form = FormData({"List-Unsubscribe": "One-Click"}, default_to_multipart=True)
    response = await client.post(path_for(ctx), data=form)
    assert response.request_info.headers["Content-Type"].startswith("multipart/form-data")
    assert response.status == 200
    assert [r["method"] for r in publisher.records] == ["one_click"]


async def test_get_and_head_show_a_page_with_a_form_button_and_change_nothing(app, publisher):
    client, ctx = app
    path = path_for(ctx)
    for _ in range(3):  # a link scanner fetches, and fetches again
        page = await client.get(path)
        assert page.status == 200
        html = await page.text()
        assert '<form method="post">' in html and '<button type="submit"' in html
        assert "a***@example.com" in html and "alice@" not in html
        assert page.headers["Referrer-Policy"] == "no-referrer"
        head = await client.head(path)
        assert head.status == 200
    assert publisher.records == []
    assert ctx.metrics.value("unsubscribe", "shown") == 6


@pytest.mark.parametrize(
    "accept,lang,words",
    [
        ("fr-FR,fr;q=0.9", "fr", "désinscrit"),
        ("de", "de", "abgemeldet"),
        ("", "en", "unsubscribed"),
    ],
)
async def test_the_page_button_records_unsubscribe_link_and_confirms_in_their_language(
    app, publisher, accept, lang, words
):
    client, ctx = app
    response = await client.post(
        path_for(ctx), data={"confirm": "yes"}, headers={"Accept-Language": accept}
    )
    assert response.status == 200
    html = await response.text()
    assert f'<html lang="{lang}">' in html and words in html
    assert [r["method"] for r in publisher.records] == ["unsubscribe_link"]


async def test_the_links_own_language_wins_over_the_browsers(app, publisher):
    client, ctx = app
    path = path_for(ctx, LinkClaims("alice@example.com", "email", "company", "US", lang="de"))
    response = await client.get(path, headers={"Accept-Language": "fr"})
    assert '<html lang="de">' in await response.text()


async def test_repeated_posts_make_the_same_record_id(app, publisher):
    client, ctx = app
    path = path_for(ctx)
    for _ in range(2):
        await client.post(path, data={"List-Unsubscribe": "One-Click"})
        await client.post(path, data={"confirm": "yes"})
    ids = [r["id"] for r in publisher.records]
    assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]


async def test_another_link_for_the_same_recipient_is_another_record(app, publisher, clock):
    client, ctx = app
    first = path_for(ctx)
    clock.now += 5
    second = path_for(ctx)
    await client.post(first, data={"List-Unsubscribe": "One-Click"})
    await client.post(second, data={"List-Unsubscribe": "One-Click"})
    assert publisher.records[0]["id"] != publisher.records[1]["id"]


@pytest.mark.parametrize("method", ["get", "post_page", "post_one_click"])
async def test_forged_links_show_a_clear_page_and_record_nothing(app, publisher, method):
    client, ctx = app
    path = path_for(ctx)
    forged = path[:-3] + ("xyz" if not path.endswith("xyz") else "abc")
    if method == "get":
        response = await client.get(forged)
    elif method == "post_page":
        response = await client.post(forged, data={"confirm": "yes"})
    else:
        response = await client.post(forged, data={"List-Unsubscribe": "One-Click"})
    assert response.status == 400
    body = await response.text()
    assert "not valid" in body or "forged" in body
    assert publisher.records == []
    assert ctx.metrics.value("unsubscribe", "invalid_token") == 1


async def test_expired_links_answer_410_and_record_nothing(app, publisher, clock):
    client, ctx = app
    path = path_for(ctx)
    clock.now += 91 * DAY  # default max age: 90 days
    page = await client.get(path, headers={"Accept-Language": "de"})
    assert page.status == 410 and "abgelaufen" in await page.text()
    clicked = await client.post(path, data={"confirm": "yes"})
    assert clicked.status == 410
    assert publisher.records == []
    assert ctx.metrics.value("unsubscribe", "expired_token") == 2


async def test_a_broker_that_does_not_acknowledge_gets_503_so_the_caller_retries(app, publisher):
    client, ctx = app
    publisher.fail = True
    path = path_for(ctx)
    one_click = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    page = await client.post(path, data={"confirm": "yes"}, headers={"Accept-Language": "fr"})
    assert one_click.status == 503 and page.status == 503
    assert "Retry-After" in one_click.headers
    assert "réessayer" in (await page.text()).lower()
    assert ctx.metrics.value("unsubscribe", "publish_failed") == 2
    assert ctx.metrics.value("unsubscribe", "recorded") == 0


async def test_the_record_fits_the_optout_schema(app, publisher):
    client, ctx = app
    await client.post(path_for(ctx), data={"List-Unsubscribe": "One-Click"})
    codec = builders.mock_codec()
    decoded = codec.decode(
        topics.OPTOUT, codec.encode(topics.OPTOUT, wire_record(publisher.records[0]))
    )
    assert decoded["at"] == ctx.now() and decoded["method"] == "one_click"


def test_the_headers_survive_a_real_mime_message():
    tokens = LinkTokens([("k1", b"first-secret-0123456789")], "unsubscribe", 90 * DAY)
    base = "https://mail.example.com/" + "p" * 120  # long enough to tempt folding
    headers = list_unsubscribe_headers(tokens, base, CLAIMS, mailto="unsub@example.com")
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    message["From"] = "news@example.com"
    message["To"] = "alice@example.com"
    message["Subject"] = "News"
    for name, value in headers.items():
        message[name] = value
    message.set_content("Unsubscribe: " + unsubscribe_url(tokens, base, CLAIMS))
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    https, mailto = (part.strip().strip("<>") for part in parsed["List-Unsubscribe"].split(","))
    assert https.startswith(base + "/u/k1.") and "=?" not in str(parsed["List-Unsubscribe"])
    assert mailto == "mailto:unsub@example.com"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = https.rsplit("/u/", 1)[1]
    assert tokens.verify(token) == CLAIMS
    assert "alice" not in parsed["List-Unsubscribe"]
