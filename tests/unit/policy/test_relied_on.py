"""Issue 15 §1: every verdict names the records it relied on (grant, confirm, agreement, covering
opt-out), and the state keeps those ids, in a bounded form, across its encoding."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.policy.config import PolicyConfig
from streams.policy.records import Verdict, parse_record
from streams.policy.replay import replay_objects
from streams.policy.state import (
    MAX_STORED_ID_CHARS,
    STATE_FORMAT,
    apply,
    decode_state,
    encode_state,
    short_id,
)
from tests.builders import PARTNER, consent, intent, optout, partner

CONFIG = PolicyConfig()
E = "email"


def last_verdict(*records: dict[str, Any]) -> Verdict:
    verdicts = [v for v in replay_objects(records, CONFIG) if isinstance(v, Verdict)]
    return verdicts[-1]


def relied(verdict: Verdict) -> tuple[str | None, ...]:
    return (verdict.grant_id, verdict.confirm_id, verdict.agreement_id, verdict.optout_id)


def test_an_allow_names_its_grant() -> None:
    verdict = last_verdict(consent(id="g1"), intent(id="m1"))
    assert verdict.reason == "CONSENT_VALID"
    assert relied(verdict) == ("g1", None, None, None)


def test_double_opt_in_names_the_grant_and_its_confirm() -> None:
    verdict = last_verdict(
        consent(id="g1", channel=E, at="2026-06-01T10:00:00Z"),
        consent(id="k1", channel=E, action="confirm", at="2026-06-01T10:05:00Z"),
        intent(id="m1", channel=E),
    )
    assert verdict.reason == "CONSENT_VALID"
    assert relied(verdict) == ("g1", "k1", None, None)


def test_a_confirm_arriving_before_its_grant_still_names_both() -> None:
    verdict = last_verdict(
        consent(id="k1", channel=E, action="confirm", at="2026-06-01T10:05:00Z"),
        consent(id="g1", channel=E, at="2026-06-01T10:00:00Z"),
        intent(id="m1", channel=E),
    )
    assert relied(verdict)[:2] == ("g1", "k1")


def test_an_unconfirmed_deny_names_the_grant_that_lacked_a_confirm() -> None:
    verdict = last_verdict(consent(id="g1", channel=E), intent(id="m1", channel=E))
    assert verdict.reason == "CONSENT_UNCONFIRMED"
    assert relied(verdict) == ("g1", None, None, None)


def test_an_opted_out_deny_names_the_covering_opt_out() -> None:
    verdict = last_verdict(consent(id="g1"), optout(id="o1"), intent(id="m1"))
    assert verdict.reason == "OPTED_OUT"
    assert relied(verdict) == (None, None, None, "o1")


def test_a_grant_after_the_opt_out_names_both() -> None:
    verdict = last_verdict(
        optout(id="o1", at="2026-06-01T10:00:00Z"),
        consent(id="g2", at="2026-06-01T11:00:00Z"),
        intent(id="m1"),
    )
    assert verdict.reason == "CONSENT_VALID"
    assert relied(verdict) == ("g2", None, None, "o1")


def test_an_opt_out_dated_after_the_intent_is_still_named() -> None:
    verdict = last_verdict(consent(id="g1"), optout(id="o9", at="2026-06-02T00:00:00Z"),
                           intent(id="m1"))  # fmt: skip
    assert (verdict.reason, verdict.optout_id) == ("OPTED_OUT", "o9")


def test_a_third_party_names_its_agreement_in_force_or_the_revocation() -> None:
    signed = partner(id="p1")
    grant = consent(id="g1", party=PARTNER)
    allowed = last_verdict(signed, grant, intent(id="m1", sender=PARTNER))
    assert allowed.reason == "CONSENT_VALID"
    assert relied(allowed) == ("g1", None, "p1", None)
    revoked = partner(id="p2", agreement="revoked", at="2026-06-01T18:00:00Z")
    denied = last_verdict(signed, grant, revoked, intent(id="m2", sender=PARTNER))
    assert denied.reason == "THIRD_PARTY_NO_AGREEMENT"
    assert denied.agreement_id == "p2"


def test_a_confirmation_names_the_opt_out_it_confirms() -> None:
    verdict = last_verdict(
        optout(id="o1"),
        intent(id="m1", category="optout_confirmation", body="You are unsubscribed.",
               at="2026-06-01T18:32:00Z"),  # within the US window of 5 minutes (J4)
    )  # fmt: skip
    assert verdict.reason == "OPTOUT_CONFIRMATION"
    assert relied(verdict) == (None, None, None, "o1")


def test_transactional_relies_on_no_consent_record() -> None:
    verdict = last_verdict(
        consent(id="g1"), optout(id="o1"),
        intent(id="m1", category="transactional", body="Your order 77 has shipped."),
    )  # fmt: skip
    assert verdict.reason == "TRANSACTIONAL"
    assert relied(verdict) == (None, None, None, None)


def test_long_ids_are_kept_bounded_and_recognisable() -> None:
    long_id = "grant-" + "x" * 200  # records allow 256 characters
    kept = short_id(long_id)
    assert kept is not None and len(kept) == MAX_STORED_ID_CHARS
    assert kept.startswith("grant-xxx") and kept != short_id(long_id + "y")
    assert short_id("g1") == "g1"
    verdict = last_verdict(consent(id=long_id), intent(id="m1"))
    assert verdict.grant_id == kept


def _state(*records: dict[str, Any]) -> Any:
    state = None
    for raw in records:
        record = parse_record(raw)
        state = apply(state, record, CONFIG)  # type: ignore[arg-type]
    return state


def test_ids_survive_the_state_encoding() -> None:
    state = _state(
        consent(id="g1", channel=E, at="2026-06-01T10:00:00Z"),
        consent(id="k1", channel=E, action="confirm", at="2026-06-01T10:05:00Z"),
        optout(id="o1", channel="sms"),
    )
    data = encode_state(state)
    assert data[0] == STATE_FORMAT == 3
    again = decode_state(data)
    assert again == state
    line = again.consents[(E, "company")]
    assert [g.id for g in line.grants] == ["g1"]
    assert [(c.id, c.grant_id) for c in line.confirms] == [("k1", "g1")]
    assert again.optout_ids == {("sms", None): "o1"}


def test_version_2_states_still_decode_without_ids() -> None:
    at0, at1, at2 = 1780300000000, 1780300060000, 1780300120000
    v2 = b"\x02" + orjson.dumps([
        [["email", "company", [at0, "express"], [at1, at0]]],
        [["sms", None, at2]],
        [[at2, "o1", "sms", None, None]],
    ])  # fmt: skip
    state = decode_state(v2)
    line = state.consents[("email", "company")]
    assert (line.confirmed_at, line.confirmed_grant_at) == (at1, at0)
    assert line.grants[0].id is None and line.confirms[0].id is None
    assert state.optouts == {("sms", None): at2} and state.optout_ids == {}
    assert decode_state(encode_state(state)) == state
    assert encode_state(state)[0] == STATE_FORMAT


@pytest.mark.parametrize("bad", [b'\x03[[["sms","company",[1,"express"],[]]],[],[]]'])
def test_a_version_3_state_with_pairs_is_refused(bad: bytes) -> None:
    from streams.policy.state import StateDecodeError

    with pytest.raises(StateDecodeError):
        decode_state(bad)
