"""parse_record: the contract's records validated into typed values, or a clear InvalidRecord."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from streams.policy.errors import InvalidRecord
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    Violation,
    effective_at,
    parse_record,
)

CONSENT = {
    "type": "consent", "id": "c1", "at": "2026-06-01T17:00:00Z", "channel": "sms",
    "address": "(415) 555-0124", "party": "company", "purpose": "marketing", "action": "grant",
    "jurisdiction": "US", "evidence": {"source": "web_form", "ip": "203.0.113.7"},
}  # fmt: skip
OPTOUT = {
    "type": "optout", "id": "o1", "at": "2026-06-01T17:10:00Z", "channel": "email",
    "address": " Alice@Example.com", "method": "unsubscribe_link", "jurisdiction": "IE",
}  # fmt: skip
PARTNER = {"type": "partner", "id": "p1", "at": "2026-06-01T17:05:00Z", "party": "acme-partner",
           "agreement": "signed", "expires": "2027-06-01T00:00:00+02:00"}  # fmt: skip
INTENT = {
    "type": "intent", "id": "m1", "at": "2026-06-01T19:00:00Z", "channel": "sms",
    "address": "+14155550124", "sender": "company", "category": "promotional",
    "has_opt_out": True, "jurisdiction": "us", "body": "20% off. Reply STOP to opt out.",
}  # fmt: skip


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    record = {**base, **changes}
    return {k: v for k, v in record.items() if v is not ...}


def test_consent() -> None:
    record = parse_record(CONSENT)
    assert isinstance(record, ConsentRecord)
    assert record.address == "+14155550124"
    assert record.at == datetime(2026, 6, 1, 17, tzinfo=UTC)
    assert record.basis == "express"
    assert record.evidence["source"] == "web_form"


def test_optout_party_absent_means_every_party() -> None:
    record = parse_record(OPTOUT)
    assert isinstance(record, OptOutRecord)
    assert record.party is None
    assert record.address == "alice@example.com"


def test_partner_with_offset_expiry_is_normalized_to_utc() -> None:
    record = parse_record(PARTNER)
    assert isinstance(record, PartnerRecord)
    assert record.expires == datetime(2027, 5, 31, 22, tzinfo=UTC)


def test_intent() -> None:
    record = parse_record(INTENT)
    assert isinstance(record, SendIntent)
    assert record.jurisdiction == "US"
    assert record.region is None and record.timezone is None


def test_kind_from_the_topic_when_type_is_absent() -> None:
    record = parse_record(_with(INTENT, type=...), kind="intent")
    assert isinstance(record, SendIntent)


def test_type_contradicting_the_topic_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="does not match"):
        parse_record(INTENT, kind="consent")


def test_at_may_be_an_aware_datetime_as_fastavro_gives_it() -> None:
    moment = datetime(2026, 6, 1, 21, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    record = parse_record(_with(INTENT, at=moment))
    assert record.at == datetime(2026, 6, 1, 19, 0, 0, 123000, tzinfo=UTC)


def test_extra_and_future_fields_are_tolerated_and_kept() -> None:
    consent = parse_record(_with(CONSENT, basis="soft_opt_in", campaign_source="x"))
    assert isinstance(consent, ConsentRecord) and consent.basis == "soft_opt_in"
    intent = parse_record(_with(INTENT, region="us-fl", timezone="America/New_York", extra=1))
    assert isinstance(intent, SendIntent)
    assert (intent.region, intent.timezone) == ("US-FL", "America/New_York")


@pytest.mark.parametrize(
    ("record", "says", "record_id"),
    [
        (_with(CONSENT, evidence={"ip": "1.2.3.4"}), "evidence.source", "c1"),
        (_with(CONSENT, evidence=...), "not recorded consent", "c1"),
        (_with(CONSENT, evidence={"source": "form", "n": 3}), "object of strings", "c1"),
        (_with(CONSENT, purpose="research"), "purpose 'research'", "c1"),
        (_with(CONSENT, action="withdraw"), "action 'withdraw'", "c1"),
        (_with(CONSENT, basis="legitimate_interest"), "basis", "c1"),
        (_with(CONSENT, party=""), "party: party id is empty", "c1"),
        (_with(CONSENT, address="not-a-number"), "address: phone number", "c1"),
        (_with(CONSENT, jurisdiction="USA"), "ISO 3166-1", "c1"),
        (
            _with(OPTOUT, channel="sms", address="(415) 555-0124", jurisdiction=...),
            "no jurisdiction to read it in",
            "o1",
        ),
        (
            _with(OPTOUT, channel="sms", address="(415) 555-0124", jurisdiction="ZZZ"),
            "ISO 3166-1 country, and the address needs it",
            "o1",
        ),
        (_with(OPTOUT, channel="sms", address="+1 555", jurisdiction=...), "address: phone", "o1"),
        (_with(CONSENT, basis=""), "basis", "c1"),
        (_with(INTENT, region="CA-ON"), "not in jurisdiction US", "m1"),
        (_with(INTENT, region="US-"), "ISO 3166-2", "m1"),
        (_with(INTENT, region="US-ABCD"), "ISO 3166-2", "m1"),
        (_with(INTENT, region="US-ZZ"), "not an ISO 3166-2 subdivision", "m1"),
        (_with(INTENT, jurisdiction="DE"), "not in the jurisdiction table", "m1"),
        (_with(INTENT, jurisdiction="USA"), "ISO 3166-1", "m1"),
        (_with(INTENT, sender="a\u200bcme"), "sender: party id", "m1"),
        (_with(INTENT, body="x" * (256 * 1024 + 1)), "body is 262145 characters", "m1"),
        (_with(INTENT, subject=5), "subject must be a string", "m1"),
        (_with(INTENT, subject="s" * 999), "subject is 999 characters", "m1"),
        (_with(INTENT, campaign="c" * 257), "campaign is 257 characters", "m1"),
        (_with(INTENT, id="i" * 257), "id is 257 characters", None),
        (_with(PARTNER, agreement="Signed"), "agreement", "p1"),
        (_with(PARTNER, at="2026-06-01T17:05:00"), "no time zone", "p1"),
        (_with(CONSENT, at="2026-06-01T17:05:00"), "no time zone", "c1"),
        (_with(CONSENT, channel="SMS"), "channel 'SMS'", "c1"),
        (_with(OPTOUT, channel="pigeon"), "channel 'pigeon'", "o1"),
        (_with(OPTOUT, address="alice"), "address: email", "o1"),
        (_with(PARTNER, agreement="maybe"), "agreement", "p1"),
        (_with(PARTNER, expires="soon"), "expires", "p1"),
        (_with(INTENT, channel="pigeon"), "channel 'pigeon'", "m1"),
        (_with(INTENT, category=...), "category is required", "m1"),
        (_with(INTENT, category="newsletter"), "category 'newsletter'", "m1"),
        (_with(INTENT, has_opt_out="yes"), "has_opt_out", "m1"),
        (_with(INTENT, has_opt_out=...), "has_opt_out", "m1"),
        (_with(INTENT, body=42), "body", "m1"),
        (_with(INTENT, at="2026-06-01T19:00:00"), "no time zone", "m1"),
        (_with(INTENT, at="yesterday"), "not an ISO-8601", "m1"),
        (_with(INTENT, at=1780000000000), "ISO-8601", "m1"),
        (_with(INTENT, at=...), "at is required", "m1"),
        (_with(INTENT, region="Florida"), "ISO 3166-2", "m1"),
        (_with(INTENT, jurisdiction=...), "jurisdiction is required", "m1"),
        (_with(INTENT, id=...), "id must be", None),
        (_with(INTENT, id=7), "id must be", None),
        (_with(INTENT, type="gossip"), "unknown record type", "m1"),
        (_with(INTENT, type=...), "unknown record type", "m1"),
    ],
)
def test_invalid_records_say_which_field(
    record: dict[str, Any], says: str, record_id: str | None
) -> None:
    with pytest.raises(InvalidRecord, match=says) as caught:
        parse_record(record)
    assert caught.value.record_id == record_id


@pytest.mark.parametrize("basis", ["express", "implied_purchase", "implied_inquiry", "soft_opt_in"])
def test_every_basis_is_read(basis: str) -> None:
    record = parse_record(_with(CONSENT, basis=basis))
    assert isinstance(record, ConsentRecord) and record.basis == basis


def test_basis_null_or_absent_is_express() -> None:
    for record in (parse_record(_with(CONSENT, basis=None)), parse_record(CONSENT)):
        assert isinstance(record, ConsentRecord) and record.basis == "express"


def test_region_is_optional_and_normalized() -> None:
    for region, expected in ((None, None), ("us-tx", "US-TX"), (" US-FL ", "US-FL")):
        record = parse_record(_with(INTENT, region=region))
        assert isinstance(record, SendIntent) and record.region == expected


@pytest.mark.parametrize("method", ["carrier_pigeon", None, 7, "", ["sms_keyword"], {"a": 1}])
def test_optout_with_an_unknown_or_missing_method_is_honoured_as_other(method: object) -> None:
    raw = _with(OPTOUT, method=method) if method is not None else _with(OPTOUT, method=...)
    record = parse_record(raw)
    assert isinstance(record, OptOutRecord)
    assert record.method == "other"
    assert parse_record(OPTOUT).method == "unsubscribe_link"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("channel", "address", "normalized"),
    [("email", " Alice@Example.com", "alice@example.com"),
     ("sms", "+1 (415) 555-0124", "+14155550124"),
     ("social_dm", " @alice ", "@alice")],
)  # fmt: skip
@pytest.mark.parametrize("jurisdiction", [..., None, "ZZ", 5])
def test_optout_without_a_readable_jurisdiction_is_honoured_when_the_address_reads(
    channel: str, address: str, normalized: str, jurisdiction: object
) -> None:
    record = parse_record(_with(OPTOUT, channel=channel, address=address,
                                jurisdiction=jurisdiction))  # fmt: skip
    assert isinstance(record, OptOutRecord)
    assert (record.address, record.jurisdiction) == (normalized, None)
    assert any("jurisdiction" in repair for repair in record.repairs)


@pytest.mark.parametrize(("given", "read"), [("USA", "US"), ("usa", "US"), (" us ", "US"),
                                             ("CAN", "CA")])  # fmt: skip
def test_optout_jurisdiction_alias_is_read_and_reported(given: str, read: str) -> None:
    address = "(613) 555-0164" if read == "CA" else "(415) 555-0124"
    record = parse_record(_with(OPTOUT, channel="sms", address=address, jurisdiction=given))
    assert isinstance(record, OptOutRecord) and record.jurisdiction == read
    assert record.repairs == (f"jurisdiction {given!r} read as {read}",)


def test_a_clean_optout_has_no_repairs() -> None:
    record = parse_record(OPTOUT)
    assert isinstance(record, OptOutRecord) and record.repairs == ()


@pytest.mark.parametrize(
    "at", [..., None, "2026-06-01T17:00:00", 1780000000, "2026-06-30T23:59:60Z", "soon",
           "0001-01-01T00:00:00+23:59"],
)  # fmt: skip
def test_optout_with_an_unreadable_at_takes_effect_when_received(at: object) -> None:
    raw = _with(OPTOUT, at=at)
    record = parse_record(raw)
    assert isinstance(record, OptOutRecord) and record.at is None
    assert len(record.repairs) == 1 and "when the gate received it" in record.repairs[0]
    received = datetime(2026, 6, 2, 9, 30, 0, 123456, tzinfo=UTC)
    assert effective_at(record, received) == datetime(2026, 6, 2, 9, 30, 0, 123000, tzinfo=UTC)
    stamped = parse_record(raw, received_at=received)
    assert stamped.at == datetime(2026, 6, 2, 9, 30, 0, 123000, tzinfo=UTC)


def test_a_readable_at_is_kept_whatever_the_receipt_time() -> None:
    record = parse_record(OPTOUT, received_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert record.at == datetime(2026, 6, 1, 17, 10, tzinfo=UTC)
    assert effective_at(record, datetime(2030, 1, 1, tzinfo=UTC)) == record.at


def test_revocation_is_applied_leniently_a_signature_is_not() -> None:
    raw = _with(PARTNER, agreement=" REVOKED", at="2026-06-01T17:05:00", id=...,
                expires="never", party=" ACME-Partner ")  # fmt: skip
    record = parse_record(raw)
    assert isinstance(record, PartnerRecord)
    assert (record.agreement, record.party, record.at, record.expires) == (
        "revoked", "acme-partner", None, None)  # fmt: skip
    assert record.id.startswith("unidentified-") and len(record.repairs) == 4
    with pytest.raises(InvalidRecord, match="no time zone"):
        parse_record(_with(raw, agreement="signed", id="p2"))
    with pytest.raises(InvalidRecord, match="party"):
        parse_record(_with(raw, party="\u202e"))


def test_subject_is_carried_on_intents() -> None:
    record = parse_record(_with(INTENT, subject="Summer sale"))
    assert isinstance(record, SendIntent) and record.subject == "Summer sale"
    assert parse_record(INTENT).subject is None  # type: ignore[union-attr]


def test_parties_are_canonical_on_every_record() -> None:
    spellings = ("Acme-Partner", " acme-partner ", "ACME-PARTNER", "\uff41cme-partner")
    for spelling in spellings:
        assert parse_record(_with(CONSENT, party=spelling)).party == "acme-partner"  # type: ignore[union-attr]
        assert parse_record(_with(OPTOUT, party=spelling)).party == "acme-partner"  # type: ignore[union-attr]
        assert parse_record(_with(PARTNER, party=spelling)).party == "acme-partner"  # type: ignore[union-attr]
        assert parse_record(_with(INTENT, sender=spelling)).sender == "acme-partner"  # type: ignore[union-attr]


def test_not_an_object() -> None:
    with pytest.raises(InvalidRecord, match="must be an object"):
        parse_record(["intent"])  # type: ignore[arg-type]


def test_verdict_and_violation_to_dict_are_json_ready() -> None:
    at = datetime(2026, 6, 1, 19, 0, 0, 5000, tzinfo=UTC)
    verdict = Verdict(
        "m1", "deny", "OPTED_OUT", ("OPTED_OUT", "MISSING_OPT_OUT"), "v1", ("X",), at,
        channel="sms", intent_at=at,
    )  # fmt: skip
    assert verdict.to_dict() == {
        "id": "m1", "decision": "deny", "reason": "OPTED_OUT",
        "reasons": ["OPTED_OUT", "MISSING_OPT_OUT"], "policy_version": "v1",
        "rules_evaluated": ["X"], "decided_at": "2026-06-01T19:00:00.005Z", "detail": None,
        "channel": "sms", "sender": None, "category": None,
        "intent_at": "2026-06-01T19:00:00.005Z", "grant_id": None, "confirm_id": None,
        "agreement_id": None, "optout_id": None, "recipient_ref": None,
    }  # fmt: skip
    assert verdict.to_wire()["decided_at"] == at, "Avro takes instants as datetimes"
    violation = Violation("m1:OPTED_OUT", "m1", "company", "sms", "OPTED_OUT", "critical", at)
    assert violation.to_dict()["at"] == "2026-06-01T19:00:00.005Z"
    assert violation.to_wire()["at"] == at


@pytest.mark.parametrize("ref", ["k1:ABCDEFGHIJKLMNOPQRSTUVWXYZ", None])
def test_naming_a_verdict_keeps_every_other_field(ref: str | None) -> None:
    """`Verdict.named` spells out `dataclasses.replace`: a field it forgot or misplaced (one
    added to Verdict later) shows here, as every field holds a value of its own."""
    values = {f.name: f"value of {f.name}" for f in dataclasses.fields(Verdict)}
    verdict = Verdict(**values)
    named = verdict.named(ref)
    assert named == dataclasses.replace(verdict, recipient_ref=ref)
    assert named.recipient_ref == ref
