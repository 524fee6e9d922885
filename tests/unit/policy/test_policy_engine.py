"""decide(): precedence, deny by default, the confirmation memory, verdict and violation shapes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.policy.config import PolicyConfig
from streams.policy.engine import Decision, decide, invalid_verdict, violation_for
from streams.policy.reasons import DENY_PRECEDENCE, SEVERITY
from streams.policy.records import ConsentRecord, OptOutRecord, SendIntent, parse_record
from streams.policy.rules.cases import consent, intent, optout, partner
from streams.policy.state import EMPTY_STATE, Agreements, RecipientState, apply

from .support import verdicts

CONFIG = PolicyConfig()
NOW = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)


def state_of(*records: dict[str, Any], config: PolicyConfig = CONFIG) -> RecipientState:
    state = EMPTY_STATE
    for raw in records:
        record = parse_record(raw)
        assert isinstance(record, ConsentRecord | OptOutRecord)
        state = apply(state, record, config)
    return state


def an_intent(minutes: float, **fields: Any) -> SendIntent:
    record = parse_record(intent(minutes, **fields))
    assert isinstance(record, SendIntent)
    return record


def test_reasons_list_every_deny_in_precedence_order() -> None:
    verdict = decide(
        an_intent(1, sender="acme", has_opt_out=False), EMPTY_STATE, Agreements(), CONFIG, now=NOW
    ).verdict
    assert verdict.decision == "deny"
    assert verdict.reasons == ("THIRD_PARTY_NO_AGREEMENT", "NO_CONSENT", "MISSING_OPT_OUT")
    assert verdict.reason == "THIRD_PARTY_NO_AGREEMENT"


def test_opted_out_and_missing_opt_out_together() -> None:
    (verdict,) = verdicts([consent(0), optout(1), intent(2, body="Big news, 20% off!")])
    assert verdict.reasons == ("OPTED_OUT", "MISSING_OPT_OUT")


def test_allow_carries_its_code_as_the_only_reason() -> None:
    decision = decide(an_intent(1), state_of(consent(0)), Agreements(), CONFIG, now=NOW)
    assert decision == Decision(decision.verdict, None)
    assert decision.verdict.reasons == ("CONSENT_VALID",)
    assert decision.verdict.policy_version == CONFIG.policy_version
    assert decision.verdict.decided_at == NOW
    assert "NO_CONSENT" in decision.verdict.rules_evaluated


def test_decided_at_defaults_to_the_clock() -> None:
    before = datetime.now(UTC)
    verdict = decide(an_intent(1), None, {}, CONFIG).verdict
    assert before <= verdict.decided_at <= datetime.now(UTC)


def test_allowed_confirmation_is_remembered_and_reprocessing_reproduces_it() -> None:
    state = state_of(consent(0), optout(10))
    first = an_intent(11, category="optout_confirmation", body="You are unsubscribed.")
    decided = decide(first, state, {}, CONFIG, now=NOW)
    assert decided.verdict.reason == "OPTOUT_CONFIRMATION"
    assert decided.new_state is not None
    assert decided.new_state.recent_optouts[0].confirmed_by == first.id

    again = decide(first, decided.new_state, {}, CONFIG, now=NOW)
    assert again.verdict == decided.verdict and again.new_state is None

    second = replace(first, id="m-other")
    assert decide(second, decided.new_state, {}, CONFIG, now=NOW).verdict.reason == (
        "CONFIRMATION_NOT_ALLOWED"
    )


def test_a_denied_confirmation_changes_no_state() -> None:
    confirmation = an_intent(11, category="optout_confirmation", body="Unsubscribed. 10% off!")
    decided = decide(confirmation, state_of(optout(10)), {}, CONFIG, now=NOW)
    assert decided.verdict.reasons == ("PROMOTIONAL_CONTENT_NOT_ALLOWED",)
    assert decided.new_state is None


def test_each_new_opt_out_may_be_confirmed_once() -> None:
    confirmation = "optout_confirmation"
    records = [optout(0), intent(1, category=confirmation), optout(5),
               intent(6, category=confirmation), intent(7, category=confirmation)]  # fmt: skip
    assert [v.reason for v in verdicts(records)] == [
        "OPTOUT_CONFIRMATION", "OPTOUT_CONFIRMATION", "CONFIRMATION_NOT_ALLOWED",
    ]  # fmt: skip


def test_configured_values_are_honoured() -> None:
    config = PolicyConfig(
        first_party="acme",
        optout_confirmation_window=timedelta(minutes=5),
        double_opt_in_channels=frozenset({"email", "sms"}),
        policy_version="test/1",
    )
    assert [
        v.reason for v in verdicts([consent(0, party="acme"), intent(1, sender="acme")], config)
    ] == ["CONSENT_UNCONFIRMED"]
    late = [optout(0), intent(6, category="optout_confirmation", sender="acme")]
    assert [v.reason for v in verdicts(late, config)] == ["CONFIRMATION_NOT_ALLOWED"]
    company = verdicts([partner(0, party="company"), intent(1, category="legal")], config)
    assert company[0].reason == "LEGAL_REQUIRED" and company[0].policy_version == "test/1"
    assert verdicts([intent(1, category="legal")], config)[0].reason == "THIRD_PARTY_NO_AGREEMENT"


def test_third_party_needs_its_own_agreement_whatever_the_category() -> None:
    records = [partner(0, party="globex"), intent(1, category="legal", sender="acme")]
    assert verdicts(records)[0].reasons == ("THIRD_PARTY_NO_AGREEMENT",)


def test_invalid_verdict() -> None:
    verdict = invalid_verdict("m9", "channel 'pigeon' is not one of ...", CONFIG, now=NOW)
    assert (verdict.id, verdict.decision, verdict.reason) == ("m9", "deny", "INVALID_INTENT")
    assert verdict.reasons == ("INVALID_INTENT",) and verdict.detail
    assert verdict.to_dict()["decided_at"] == "2026-06-01T23:00:00.000Z"


def test_violation_for_a_denied_intent_is_deterministic() -> None:
    denied = an_intent(1)
    verdict = decide(denied, EMPTY_STATE, {}, CONFIG, now=NOW).verdict
    violation = violation_for(verdict, denied)
    assert violation is not None
    assert violation.id == f"{denied.id}:NO_CONSENT"
    assert (violation.rule, violation.severity) == ("NO_CONSENT", "high")
    assert (violation.sender, violation.channel, violation.at) == ("company", "sms", denied.at)
    assert violation_for(decide(denied, EMPTY_STATE, {}, CONFIG).verdict, denied) == violation


def test_verdict_echoes_the_intent() -> None:
    intent = an_intent(1, campaign="summer")
    verdict = decide(intent, None, {}, CONFIG, now=NOW).verdict
    assert (verdict.channel, verdict.sender, verdict.category, verdict.intent_at) == (
        "sms", "company", "promotional", intent.at,
    )  # fmt: skip
    violation = violation_for(verdict, intent)
    assert violation is not None
    assert (violation.campaign, violation.reasons) == ("summer", ("NO_CONSENT",))
    assert violation.policy_version == CONFIG.policy_version


def test_invalid_verdict_keeps_readable_raw_fields() -> None:
    raw = {"id": "m3", "channel": "pigeon", "sender": "company", "at": "2026-06-05T16:02:00Z"}
    verdict = invalid_verdict("m3", "bad channel", CONFIG, raw, now=NOW)
    assert (verdict.channel, verdict.sender, verdict.category) == ("pigeon", "company", None)
    assert verdict.intent_at == datetime(2026, 6, 5, 16, 2, tzinfo=UTC)
    assert invalid_verdict("m3", "bad", CONFIG, {"at": 5}, now=NOW).intent_at is None


def test_violation_for_an_invalid_intent_keeps_what_was_readable() -> None:
    raw = {"id": "m3", "channel": "pigeon", "sender": 7, "at": "2026-06-05T16:02:00Z"}
    violation = violation_for(invalid_verdict("m3", "bad", CONFIG, now=NOW), raw)
    assert violation is not None
    assert (violation.channel, violation.sender, violation.severity) == ("pigeon", None, "low")
    assert violation.at == datetime(2026, 6, 5, 16, 2, tzinfo=UTC)
    assert violation_for(invalid_verdict("m3", "bad", CONFIG, now=NOW), {"at": "?"}).at == NOW  # type: ignore[union-attr]


def test_no_violation_for_an_allow() -> None:
    allowed = an_intent(1, category="transactional", body="Your order 5 has shipped.")
    assert violation_for(decide(allowed, None, {}, CONFIG, now=NOW).verdict, allowed) is None


@pytest.mark.parametrize("code", DENY_PRECEDENCE)
def test_every_deny_code_has_a_severity(code: str) -> None:
    assert SEVERITY[code] in {"critical", "high", "medium", "low"}


def test_deny_by_default_when_no_rule_grants_an_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.policy import engine

    plan = engine._PLANS["legal"]
    bare = engine._Plan(plan.rule_ids, plan.checks[:1], ())  # the agreement rule alone
    monkeypatch.setitem(engine._PLANS, "legal", bare)
    verdict = decide(an_intent(1, category="legal"), None, {}, CONFIG, now=NOW).verdict
    assert (verdict.decision, verdict.reason) == ("deny", "INVALID_INTENT")
    assert verdict.detail == "no rule allows category 'legal'"


@pytest.mark.parametrize("category", ["promotional", "transactional", "legal"])
@pytest.mark.parametrize("state", [EMPTY_STATE, None], ids=["no consent", "no state"])
def test_the_callers_pseudonym_is_carried_into_every_verdict(
    category: str, state: RecipientState | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed, denied or not checkable, the verdict names the recipient as the caller asked,
    and only then: the engine holds no key."""
    from streams.policy import engine

    if state is None:  # the not-checkable path: no rule allows
        plan = engine._PLANS[category]
        monkeypatch.setitem(engine._PLANS, category, engine._Plan(plan.rule_ids, (), ()))
    one = an_intent(1, category=category)
    named = decide(one, state, {}, CONFIG, now=NOW, recipient_ref="k1:abc").verdict
    plain = decide(one, state, {}, CONFIG, now=NOW).verdict
    assert named.recipient_ref == "k1:abc"
    assert plain.recipient_ref is None
    assert named == replace(plain, recipient_ref="k1:abc")
