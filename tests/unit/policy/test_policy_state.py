"""RecipientState: what records leave behind, idempotency, bounds, and the byte encoding."""

from __future__ import annotations

from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.records import ConsentRecord, OptOutRecord, PartnerRecord, parse_record
from streams.policy.rules.cases import at, consent, optout, partner
from streams.policy.state import (
    EMPTY_STATE,
    GRANTS_KEPT,
    RECENT_OPTOUTS_KEPT,
    STATE_FORMAT,
    Agreements,
    ConsentLine,
    Grant,
    RecipientState,
    StateDecodeError,
    apply,
    decode_agreement,
    decode_state,
    encode_agreement,
    encode_state,
)
from streams.policy.times import epoch_ms, parse_instant

CONFIG = PolicyConfig()


def ms(minutes: float) -> int:
    return epoch_ms(parse_instant(at(minutes), "at"))


def build(*records: dict[str, Any]) -> RecipientState:
    state = EMPTY_STATE
    for raw in records:
        record = parse_record(raw)
        assert isinstance(record, ConsentRecord | OptOutRecord)
        state = apply(state, record, CONFIG)
    return state


def line(state: RecipientState, channel: str = "sms", party: str = "company") -> ConsentLine:
    return state.consents[(channel, party)]


def kept(consents: ConsentLine) -> tuple[Grant, ...]:
    """The grants by time and basis (ids aside: test_policy_ledger_ids checks those)."""
    return tuple(Grant(g.at, g.basis) for g in consents.grants)


def test_grant_is_kept_with_its_basis_and_time() -> None:
    state = build(consent(0), consent(1, basis="implied_purchase"))
    assert kept(line(state)) == (Grant(ms(0), "express"), Grant(ms(1), "implied_purchase"))


def test_applying_a_record_twice_returns_the_same_object() -> None:
    record = parse_record(consent(0))
    assert isinstance(record, ConsentRecord)
    once = apply(None, record, CONFIG)
    assert apply(once, record, CONFIG) is once


def test_opt_out_prunes_what_it_covers_and_keeps_the_rest() -> None:
    state = build(
        consent(0), consent(0, party="acme"), consent(0, channel="email"), consent(10), optout(5)
    )
    assert kept(line(state)) == (Grant(ms(10), "express"),)
    assert ("sms", "acme") not in state.consents
    assert kept(line(state, "email")) == (Grant(ms(0), "express"),)
    assert state.optouts == {("sms", None): ms(5)}


def test_party_opt_out_prunes_only_that_party() -> None:
    state = build(consent(0), consent(0, party="acme"), optout(5, party="acme"))
    assert ("sms", "acme") not in state.consents
    assert kept(line(state)) == (Grant(ms(0), "express"),)


def test_grant_at_or_before_a_covering_opt_out_is_dropped_on_arrival() -> None:
    state = build(optout(5))
    assert build(optout(5), consent(5)) == state
    assert build(optout(5), consent(4)) == state


def test_confirm_pairs_with_the_latest_grant_before_it_whatever_the_arrival_order() -> None:
    late_grant = build(consent(0, channel="email", action="confirm"), consent(-1, channel="email"))
    assert line(late_grant, "email").confirmed_grant_at == ms(-1)
    assert build(consent(-1, channel="email"), consent(0, channel="email", action="confirm")) == (
        late_grant
    )


def test_confirm_without_an_earlier_grant_pairs_with_nothing() -> None:
    state = build(consent(0, channel="email", action="confirm"), consent(5, channel="email"))
    assert line(state, "email").confirmed_grant_at is None


def test_grants_are_capped_per_basis_oldest_dropped() -> None:
    state = build(*(consent(m) for m in range(GRANTS_KEPT + 2)))
    kept = [g.at for g in line(state).grants]
    assert kept == [ms(m) for m in range(2, GRANTS_KEPT + 2)]
    assert build(*(consent(m) for m in range(GRANTS_KEPT + 2)), consent(0)) == state


def test_confirmation_survives_many_later_grants() -> None:
    records = [consent(0, channel="email"), consent(1, channel="email", action="confirm")]
    records += [consent(m, channel="email") for m in range(2, 10)]
    assert line(build(*records), "email").confirmed_grant_at == ms(0)


def test_recent_opt_outs_are_bounded_and_redelivery_of_an_evicted_one_is_a_no_op() -> None:
    records = [optout(m) for m in range(RECENT_OPTOUTS_KEPT + 3)]
    state = build(*records)
    assert len(state.recent_optouts) == RECENT_OPTOUTS_KEPT
    assert state.recent_optouts[0].at == ms(3)
    assert build(*records, records[0]) == state


def test_apply_refuses_records_that_are_not_about_a_recipient() -> None:
    record = parse_record(partner(0))
    with pytest.raises(TypeError):
        apply(EMPTY_STATE, record, CONFIG)  # type: ignore[arg-type]


def test_encoding_round_trips_and_is_small() -> None:
    state = build(
        consent(0), consent(1, channel="email"), consent(2, channel="email", action="confirm"),
        consent(3, party="acme", basis="soft_opt_in"), optout(4, party="acme"),
        optout(5, channel="voice"),
    )  # fmt: skip
    state = state.with_confirmation(state.recent_optouts[0].id, "m-9")
    data = encode_state(state)
    assert data[0] == STATE_FORMAT == 3
    assert decode_state(data) == state
    assert len(data) < 400 + 6 * 24, "six record ids of about 20 characters are kept"
    assert decode_state(encode_state(EMPTY_STATE)) == EMPTY_STATE


@pytest.mark.parametrize(
    "data", [b"", b"\x07[]", b"\x01not json", b"\x01[1,2]", b"\x01[[[1]],[],[]]"]
)
def test_undecodable_state_is_refused(data: bytes) -> None:
    with pytest.raises(StateDecodeError):
        decode_state(data)


def _partner(raw: dict[str, Any]) -> PartnerRecord:
    record = parse_record(raw)
    assert isinstance(record, PartnerRecord)
    return record


def test_agreements_follow_their_dates_and_ignore_redelivery() -> None:
    signed, revoked = _partner(partner(0)), _partner(partner(1, agreement="revoked"))
    agreements = Agreements().apply(signed)
    assert agreements["acme-partner"].in_force(ms(0))
    agreements = agreements.apply(revoked)
    assert not agreements["acme-partner"].in_force(ms(2))
    assert agreements.apply(signed) is agreements, "a redelivered old record changes nothing"
    assert agreements.apply(revoked) is agreements


def test_agreement_expires_at_its_expiry_instant() -> None:
    agreement = Agreements().apply(_partner(partner(0, expires=at(10))))["acme-partner"]
    assert agreement.in_force(ms(10) - 1)
    assert not agreement.in_force(ms(10))


def test_agreement_encoding_round_trips() -> None:
    agreement = Agreements().apply(_partner(partner(0, expires="2027-01-01T00:00:00Z")))
    value = agreement["acme-partner"]
    assert decode_agreement(encode_agreement(value)) == value
