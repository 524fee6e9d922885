"""Link tokens: signed, expiring, rotatable by key id, and carrying no readable address."""

from __future__ import annotations

import base64

import pytest

from connectors.http.tokens import LinkClaims, LinkTokens, TokenError, parse_keys
from tests.unit.connectors.conftest import Clock

OLD = ("k1", b"first-secret-0123456789")
NEW = ("k2", b"second-secret-0123456789")
CLAIMS = LinkClaims("alice@example.com", "email", "company", "US", lang="fr")
DAY = 86400.0


def tokens(keys, clock, purpose="unsubscribe", max_age=30 * DAY):
    return LinkTokens(list(keys), purpose, max_age, clock=clock)


def test_a_token_gives_back_its_claims_and_hides_the_address():
    clock = Clock()
    token = tokens([NEW, OLD], clock).issue(CLAIMS)
    assert tokens([NEW, OLD], clock).verify(token) == CLAIMS
    assert token.startswith("k2.")
    # neither the token nor any base64 reading of its parts shows the address
    assert "alice" not in token
    for part in token.split("."):
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert b"alice" not in decoded


def test_tokens_expire_after_their_max_age():
    clock = Clock()
    issuer = tokens([NEW], clock, max_age=30 * DAY)
    token = issuer.issue(CLAIMS)
    clock.now += 29 * DAY
    assert issuer.verify(token).address == "alice@example.com"
    clock.now += 2 * DAY
    with pytest.raises(TokenError) as caught:
        issuer.verify(token)
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "k9." + t.split(".", 1)[1],  # unknown key id
        lambda t: t.split(".", 1)[1],  # no key id
        lambda t: "k2.",
        lambda t: "",
    ],
)
def test_tampered_or_unknown_tokens_are_forged(tamper):
    clock = Clock()
    token = tokens([NEW], clock).issue(CLAIMS)
    with pytest.raises(TokenError) as caught:
        tokens([NEW], clock).verify(tamper(token))
    assert caught.value.reason == "forged"


def test_rotation_old_links_verify_until_their_key_is_removed():
    clock = Clock()
    old_link = tokens([OLD], clock).issue(CLAIMS)
    rotated = tokens([NEW, OLD], clock)
    assert rotated.verify(old_link) == CLAIMS
    assert rotated.issue(CLAIMS).startswith("k2.")
    with pytest.raises(TokenError):
        tokens([NEW], clock).verify(old_link)


def test_a_key_id_cannot_borrow_another_keys_secret():
    clock = Clock()
    token = tokens([("k1", NEW[1])], clock).issue(CLAIMS)
    with pytest.raises(TokenError):
        tokens([OLD, NEW], clock).verify(token)


def test_an_unsubscribe_token_is_no_confirmation_token():
    clock = Clock()
    token = tokens([NEW], clock, "unsubscribe").issue(CLAIMS)
    with pytest.raises(TokenError):
        tokens([NEW], clock, "consent-confirm").verify(token)


def test_extra_claims_round_trip():
    clock = Clock()
    claims = LinkClaims("+14155550124", "sms", None, "US", extra={"grant": "consent-1"})
    issuer = tokens([NEW], clock)
    assert issuer.verify(issuer.issue(claims)) == claims


@pytest.mark.parametrize(
    "raw,says",
    [
        ("nocolon", "kid:secret"),
        ("k 1:0123456789abcdef", "kid:secret"),
        ("k1:short", "shorter than 16"),
        ("k1:0123456789abcdef,k1:fedcba9876543210", "twice"),
    ],
)
def test_bad_key_lists_are_refused(raw, says):
    with pytest.raises(ValueError, match=says):
        parse_keys(raw)


def test_key_lists_keep_their_order():
    assert [kid for kid, _ in parse_keys(" a:0123456789abcdef , b:fedcba9876543210 ,")] == [
        "a",
        "b",
    ]
    assert parse_keys("") == []
