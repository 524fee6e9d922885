"""As of the intent (issue 11 §1, contract "As of the intent") and intent ids as verdict keys (§6).

Grants, confirms and signed agreements count only when dated at or before the intent; opt-outs and
revocations count once held, whatever their date; a confirmation confirms only an opt-out at or
before it; a party's agreement is its held record with the latest `at`, `revoked` winning ties.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import orjson
import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import decide, intent_digest
from streams.policy.explain import explain
from streams.policy.findings import when
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    parse_record,
)
from streams.policy.replay import LineError, replay_objects, replay_records
from streams.policy.rules.cases import BASE, at, consent, intent, optout, partner
from streams.policy.state import (
    CONFIRMS_KEPT,
    EMPTY_STATE,
    GRANTS_KEPT,
    SIGNED_KEPT,
    STATE_FORMAT,
    Agreement,
    Agreements,
    RecipientState,
    Signed,
    apply,
    decode_agreement,
    decode_state,
    encode_agreement,
    encode_state,
)
from streams.policy.times import MAX_MS, epoch_ms
from tests.data import scenario_dir

CONFIG = PolicyConfig()
AS_OF = scenario_dir("as-of-scenarios")
E = "email"
P = "acme-partner"
CONFIRM_BODY = "You are unsubscribed."


def state_of(*records: dict[str, Any], received: float | None = None) -> RecipientState:
    state = EMPTY_STATE
    for raw in records:
        record = parse_record(raw)
        assert isinstance(record, ConsentRecord | OptOutRecord)
        state = apply(state, record, CONFIG, None if received is None else BASE + _min(received))
    return state


def agreements_of(*records: dict[str, Any], received: float | None = None) -> Agreements:
    agreements = Agreements()
    for raw in records:
        record = parse_record(raw)
        assert isinstance(record, PartnerRecord)
        agreements = agreements.apply(record, None if received is None else BASE + _min(received))
    return agreements


def _min(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def an_intent(minutes: float, **fields: Any) -> SendIntent:
    record = parse_record(intent(minutes, **fields))
    assert isinstance(record, SendIntent)
    return record


def verdict(state: RecipientState, minutes: float, agreements: Agreements | None = None,
            **fields: Any) -> Verdict:  # fmt: skip
    return decide(an_intent(minutes, **fields), state, agreements or Agreements(), CONFIG).verdict


def ms(minutes: float) -> int:
    return epoch_ms(BASE + _min(minutes))


# ---------------------------------------------------------------------------- the scenarios


def test_the_as_of_scenarios_replay_as_expected() -> None:
    events = sorted(AS_OF.glob("*.events.jsonl"))
    assert events, f"no scenarios under {AS_OF}"
    for path in events:
        text = path.with_name(path.name.replace(".events.", ".expected.")).read_text()
        expected = [json.loads(x) for x in text.splitlines() if x.strip()]
        with path.open("rb") as lines:
            got = [v for v in replay_records(lines) if isinstance(v, Verdict)]
        assert [(v.id, v.decision, v.reason) for v in got] == [
            (e["id"], e["decision"], e["reason"]) for e in expected
        ]


# ---------------------------------------------------------------------------- consent


def test_a_grant_counts_from_its_date_not_from_its_arrival() -> None:
    state = state_of(consent(30))
    assert verdict(state, 29).reason == "NO_CONSENT"
    assert verdict(state, 30).reason == "CONSENT_VALID"


def test_a_confirm_counts_from_its_date() -> None:
    state = state_of(consent(0, channel=E), consent(30, channel=E, action="confirm"))
    assert verdict(state, 29, channel=E).reason == "CONSENT_UNCONFIRMED"
    assert verdict(state, 30, channel=E).reason == "CONSENT_VALID"


def test_an_opt_out_dated_after_the_intent_counts_as_at_the_intent() -> None:
    state = state_of(consent(0), consent(20), optout(30))
    assert verdict(state, 25).reason == "OPTED_OUT", "held opt-out counts whatever its date"
    later_grant = state_of(consent(0), optout(30), consent(40))
    assert verdict(later_grant, 35).reason == "OPTED_OUT", "the newer grant is not dated yet"
    assert verdict(later_grant, 40).reason == "CONSENT_VALID"


def test_a_confirmed_grant_stays_confirmed_for_intents_between_two_confirms() -> None:
    state = state_of(consent(0, channel=E), consent(5, channel=E, action="confirm"),
                     consent(10, channel=E), consent(20, channel=E, action="confirm"))  # fmt: skip
    assert verdict(state, 12, channel=E).reason == "CONSENT_VALID"
    assert verdict(state, 4, channel=E).reason == "CONSENT_UNCONFIRMED"


def test_future_dated_grants_do_not_evict_the_current_one_when_the_receipt_clock_is_known() -> None:
    future = [consent(100 + n) for n in range(GRANTS_KEPT + 2)]
    state = state_of(consent(0), *future, received=1)
    assert verdict(state, 1).reason == "CONSENT_VALID"
    assert verdict(state, 200).reason == "CONSENT_VALID"
    held = [g.at for g in state.consents[("sms", "company")].grants]
    assert len(held) == GRANTS_KEPT and held[0] == ms(0), "the farthest future ones went"


def test_without_a_receipt_clock_the_caps_keep_the_newest() -> None:
    state = state_of(consent(0), *(consent(100 + n) for n in range(GRANTS_KEPT)))
    assert verdict(state, 1).reason == "NO_CONSENT", "stricter, never more permissive"


def test_future_dated_confirms_do_not_evict_the_current_one() -> None:
    confirms = [consent(100 + n, channel=E, action="confirm") for n in range(CONFIRMS_KEPT + 1)]
    state = state_of(consent(0, channel=E), consent(1, channel=E, action="confirm"), *confirms,
                     received=2)  # fmt: skip
    assert verdict(state, 2, channel=E).reason == "CONSENT_VALID"


def test_the_receipt_clock_keeps_a_renewed_grant_over_older_ones() -> None:
    state = state_of(*(consent(n) for n in range(GRANTS_KEPT + 1)), received=GRANTS_KEPT + 1)
    assert [g.at for g in state.consents[("sms", "company")].grants][-1] == ms(GRANTS_KEPT)


# ---------------------------------------------------------------------------- untimed opt-outs


def test_an_opt_out_without_a_time_takes_effect_when_received() -> None:
    record = parse_record(optout(5))
    assert isinstance(record, OptOutRecord)
    untimed = dataclasses.replace(record, at=None)  # type: ignore[arg-type]
    state = apply(state_of(consent(0)), untimed, CONFIG, BASE + _min(10))
    assert state.optouts[("sms", None)] == ms(10)
    assert verdict(apply(state, _record(consent(11)), CONFIG), 12).reason == "CONSENT_VALID"
    assert verdict(state, 12).reason == "OPTED_OUT"


def test_an_opt_out_with_neither_time_counts_for_every_intent() -> None:
    record = _record(optout(5))
    untimed = dataclasses.replace(record, at=None)  # type: ignore[arg-type]
    state = apply(state_of(consent(0)), untimed, CONFIG)
    assert state.optouts[("sms", None)] == MAX_MS
    state = apply(state, _record(consent(60)), CONFIG)
    assert verdict(state, 61).reason == "OPTED_OUT"
    assert apply(state, untimed, CONFIG) is state


def _record(raw: dict[str, Any]) -> Any:
    return parse_record(raw)


# ---------------------------------------------------------------------------- confirmations


def test_a_confirmation_confirms_only_an_opt_out_at_or_before_it() -> None:
    state = state_of(optout(20))
    assert verdict(state, 19, category="optout_confirmation", body=CONFIRM_BODY).reason == (
        "CONFIRMATION_NOT_ALLOWED"
    )
    assert verdict(state, 21, category="optout_confirmation", body=CONFIRM_BODY).reason == (
        "OPTOUT_CONFIRMATION"
    )


def test_a_confirmation_on_a_state_with_later_records_stores_the_full_state() -> None:
    state = state_of(optout(0), consent(50))
    decision = decide(an_intent(1, category="optout_confirmation", body=CONFIRM_BODY), state,
                      Agreements(), CONFIG)  # fmt: skip
    assert decision.verdict.decision == "allow" and decision.new_state is not None
    assert decision.new_state.base is None
    assert decision.new_state.consents == state.consents, "the future-dated grant is kept"
    assert decision.new_state.recent_optouts[0].confirmed_by == "m-1"


def test_an_intent_reusing_a_confirmations_id_does_not_pass_outside_the_window() -> None:
    first = an_intent(1, category="optout_confirmation", body=CONFIRM_BODY)
    decided = decide(first, state_of(optout(0)), Agreements(), CONFIG)
    assert decided.verdict.decision == "allow" and decided.new_state is not None
    again = decide(first, decided.new_state, Agreements(), CONFIG)
    assert again.verdict.reason == "OPTOUT_CONFIRMATION" and again.new_state is None
    late = dataclasses.replace(first, at=first.at + timedelta(hours=2))
    assert decide(late, decided.new_state, Agreements(), CONFIG).verdict.reason == (
        "CONFIRMATION_NOT_ALLOWED"
    )


# ---------------------------------------------------------------------------- agreements


def test_a_signed_agreement_counts_from_its_date() -> None:
    agreements = agreements_of(partner(30))
    state = state_of(consent(0, party=P))
    assert verdict(state, 29, agreements, sender=P).reason == "THIRD_PARTY_NO_AGREEMENT"
    assert verdict(state, 30, agreements, sender=P).reason == "CONSENT_VALID"


def test_a_revocation_binds_whatever_its_date_and_an_old_signed_cannot_undo_it() -> None:
    agreement = agreements_of(partner(0), partner(20, agreement="revoked"), partner(10))[P]
    assert not agreement.in_force(ms(5)), "revoked later: binds the earlier intent too"
    assert not agreement.in_force(ms(25))
    assert agreements_of(partner(0), partner(10), partner(20, agreement="revoked"))[P] == agreement


def test_revoked_wins_a_tie_and_a_later_signing_restores() -> None:
    tie = agreements_of(partner(10), partner(10, agreement="revoked"))[P]
    assert not tie.in_force(ms(11))
    assert agreements_of(partner(10, agreement="revoked"), partner(10))[P] == tie
    again = agreements_of(partner(0), partner(10, agreement="revoked"), partner(20))[P]
    assert not again.in_force(ms(15)) and again.in_force(ms(20))


def test_two_signed_records_at_one_instant_keep_the_stricter_expiry() -> None:
    loose, strict = partner(0, expires=at(60)), {**partner(0, expires=at(30)), "id": "p-strict"}
    for order in ((loose, strict), (strict, loose)):
        agreement = agreements_of(*order)[P]
        assert agreement.in_force(ms(29)) and not agreement.in_force(ms(30))


def test_signed_history_is_bounded_without_evicting_the_current_one() -> None:
    future = [partner(100 + n) for n in range(SIGNED_KEPT + 1)]
    agreement = agreements_of(partner(0, expires=at(50)), *future, received=1)[P]
    assert len(agreement.signed) == SIGNED_KEPT
    assert agreement.in_force(ms(1)) and not agreement.in_force(ms(60))


def test_reapplying_a_partner_record_changes_nothing() -> None:
    records = [partner(0), partner(5, agreement="revoked"), partner(8), partner(3)]
    agreements = agreements_of(*records)
    for raw in records:
        record = parse_record(raw)
        assert isinstance(record, PartnerRecord)
        assert agreements.apply(record) is agreements


# ---------------------------------------------------------------------------- encoding versions


def test_version_1_states_still_decode() -> None:
    v1 = b"\x01" + orjson.dumps([
        [["email", "company", [ms(0), "express", ms(2), "express"], ms(1), ms(0)]],
        [["sms", None, ms(3)]],
        [[ms(3), "o1", "sms", None, "m9"]],
    ])  # fmt: skip
    state = decode_state(v1)
    line = state.consents[("email", "company")]
    assert (line.confirmed_at, line.confirmed_grant_at) == (ms(1), ms(0))
    assert state.recent_optouts[0].confirmed_by == "m9"
    assert state.horizon == ms(3)
    assert verdict(state, 5, channel=E).reason == "CONSENT_VALID"
    assert decode_state(encode_state(state)) == state
    assert encode_state(state)[0] == STATE_FORMAT


def test_version_1_agreements_still_decode() -> None:
    signed = decode_agreement(b"\x01" + orjson.dumps([P, "signed", ms(0), ms(9), ["p1", "p2"]]))
    assert signed == Agreement(P, (Signed(ms(0), ms(9), "p2"),))
    revoked = decode_agreement(b"\x01" + orjson.dumps([P, "revoked", ms(4), None, ["p3"]]))
    assert not revoked.in_force(ms(5)) and revoked.revoked_id == "p3"
    assert decode_agreement(encode_agreement(revoked)) == revoked


def test_an_as_of_view_is_never_stored_or_applied_to() -> None:
    view = state_of(consent(30)).as_of(ms(1))
    assert view.base is not None
    with pytest.raises(ValueError):
        encode_state(view)
    with pytest.raises(ValueError):
        apply(view, _record(consent(2)), CONFIG)


# ---------------------------------------------------------------------------- intent ids


def test_intent_digest_tells_every_field_apart_and_ignores_unset_ones() -> None:
    base = an_intent(1, campaign="spring")
    assert intent_digest(base) == intent_digest(an_intent(1, campaign="spring"))
    changed = [
        dataclasses.replace(base, **{name: value})
        for name, value in (("id", "m-x"), ("at", base.at + timedelta(milliseconds=1)),
                            ("channel", "mms"), ("sender", P), ("category", "legal"),
                            ("has_opt_out", False), ("jurisdiction", "GB"), ("body", "Hi"),
                            ("timezone", "Europe/London"), ("campaign", "fall"),
                            ("region", "US-CA"), ("address", "+14155550102"))
    ]  # fmt: skip
    digests = {intent_digest(i) for i in (base, *changed)}
    assert len(digests) == len(changed) + 1
    assert intent_digest(dataclasses.replace(base, campaign=None)) == intent_digest(an_intent(1)), (
        "a field left unset is as if the field did not exist"
    )


def test_replay_repeats_the_first_verdict_for_the_same_intent_and_denies_a_reused_id() -> None:
    confirmation = intent(1, category="optout_confirmation", body=CONFIRM_BODY)
    other = {**intent(2, category="optout_confirmation", body=CONFIRM_BODY), "id": "m-1"}
    items = list(replay_objects([optout(0), confirmation, confirmation, other, confirmation,
                                 {**confirmation, "id": "m-new"}]))  # fmt: skip
    verdicts = [i for i in items if isinstance(i, Verdict)]
    assert [(v.id, v.decision, v.reason) for v in verdicts] == [
        ("m-1", "allow", "OPTOUT_CONFIRMATION"),
        ("m-1", "allow", "OPTOUT_CONFIRMATION"),
        ("m-1", "deny", "INVALID_INTENT"),
        ("m-1", "allow", "OPTOUT_CONFIRMATION"),
        ("m-new", "deny", "CONFIRMATION_NOT_ALLOWED"),
    ]
    assert verdicts[0] == verdicts[1]
    errors = [i for i in items if isinstance(i, LineError)]
    assert [(e.line, e.record_id) for e in errors] == [(4, "m-1")]
    assert "different content" in errors[0].message


def test_a_reused_id_of_an_invalid_intent_is_told_apart_too() -> None:
    bad = {**intent(1), "channel": "pigeon"}
    good = intent(1)
    items = list(replay_objects([consent(0), bad, bad, good]))
    verdicts = [i for i in items if isinstance(i, Verdict)]
    assert [v.reason for v in verdicts] == ["INVALID_INTENT"] * 3
    errors = [str(i) for i in items if isinstance(i, LineError)]
    assert len(errors) == 3 and "different content" in errors[-1]


# ---------------------------------------------------------------------------- explanations


def test_explain_says_a_record_is_dated_after_the_intent() -> None:
    grant = explain(an_intent(1), state_of(consent(30)), Agreements(), CONFIG)
    assert grant.verdict.reason == "NO_CONSENT"
    assert any("after the intent" in f.because for f in grant.findings if f.rule == "NO_CONSENT")
    opted = explain(an_intent(1), state_of(consent(0), optout(30)), Agreements(), CONFIG)
    (finding,) = [f for f in opted.findings if f.rule == "OPTED_OUT"]
    assert when(ms(30)) in finding.because and "after the intent" in finding.because
    assert finding.relied_on == ("o-sms-None-30",)
    confirmed_later = state_of(consent(0, channel=E), consent(9, channel=E, action="confirm"))
    unconfirmed = explain(an_intent(6, channel=E), confirmed_later, Agreements(), CONFIG)
    assert any(
        when(ms(9)) in f.because for f in unconfirmed.findings if f.rule == "CONSENT_UNCONFIRMED"
    )
    later = explain(an_intent(1, sender=P), state_of(consent(0, party=P)),
                    agreements_of(partner(30)), CONFIG)  # fmt: skip
    assert any("after the intent" in f.because for f in later.findings
               if f.rule == "THIRD_PARTY_NO_AGREEMENT")  # fmt: skip
