"""Properties over random record histories, checked against a naive reading of the contract.

The naive oracle keeps every record and re-reads the whole history for each intent, as of the
intent's `at`; the engine keeps a compact state. They must agree (exactly while no cap is exceeded;
beyond the caps the engine may only be stricter).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from hypothesis import event, given, settings
from hypothesis import strategies as st

from streams.policy.config import PolicyConfig
from streams.policy.content import has_opt_out_mechanism
from streams.policy.engine import decide
from streams.policy.records import (
    ConsentRecord,
    OptOutRecord,
    PartnerRecord,
    SendIntent,
    Verdict,
    parse_record,
)
from streams.policy.replay import replay_records
from streams.policy.rules.cases import BASE, at
from streams.policy.state import (
    CONFIRMS_KEPT,
    EMPTY_STATE,
    GRANTS_KEPT,
    SIGNED_KEPT,
    Agreements,
    RecipientState,
    apply,
    decode_state,
    encode_state,
)
from streams.policy.times import epoch_ms

from .test_policy_content import NOT_PROMOTIONAL

CONFIG = PolicyConfig()
ADDRESS = {"sms": "+14155550101", "email": "alice@example.com"}
PARTIES = ("company", "acme")
BODIES = {
    "sms": (None, "20% off! Reply STOP to opt out.", "20% off today."),
    "email": (None, "15% off. Unsubscribe: https://e.com/u", "15% off for members."),
}

minutes = st.integers(min_value=0, max_value=8)
channels = st.sampled_from(("sms", "email"))


@st.composite
def consent_records(draw: st.DrawFn) -> dict[str, Any]:
    channel = draw(channels)
    return {
        "type": "consent", "at": at(draw(minutes)), "channel": channel,
        "address": ADDRESS[channel], "party": draw(st.sampled_from(("company", *PARTIES))),
        "purpose": "marketing", "action": draw(st.sampled_from(("grant", "grant", "confirm"))),
        "jurisdiction": "US", "evidence": {"source": "web_form"},
    }  # fmt: skip


@st.composite
def optout_records(draw: st.DrawFn) -> dict[str, Any]:
    channel = draw(channels)
    return {
        "type": "optout", "at": at(draw(minutes)), "channel": channel,
        "address": ADDRESS[channel], "party": draw(st.sampled_from((None, *PARTIES))),
        "method": "other", "jurisdiction": "US",
    }  # fmt: skip


@st.composite
def partner_records(draw: st.DrawFn) -> dict[str, Any]:
    record = {"type": "partner", "at": at(draw(minutes)), "party": "acme",
              "agreement": draw(st.sampled_from(("signed", "revoked")))}  # fmt: skip
    if draw(st.booleans()):
        record["expires"] = at(draw(minutes))
    return record


@st.composite
def intent_records(draw: st.DrawFn, categories: tuple[str, ...] | None = None) -> dict[str, Any]:
    channel = draw(channels)
    category = draw(st.sampled_from(categories or ("promotional", "transactional", "legal",
                                                   "optout_confirmation")))  # fmt: skip
    body = draw(st.sampled_from((*BODIES[channel], BODIES[channel][1], BODIES[channel][1])))
    record = {
        "type": "intent", "at": at(draw(minutes)), "channel": channel, "address": ADDRESS[channel],
        "sender": draw(st.sampled_from(("company", "company", "acme"))), "category": category,
        "has_opt_out": draw(st.sampled_from((True, True, True, False))), "jurisdiction": "US",
    }  # fmt: skip
    if body is not None:
        record["body"] = body
    return record


def with_ids(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**record, "id": f"r{n}"} for n, record in enumerate(records)]


histories = st.lists(
    st.one_of(consent_records(), consent_records(), optout_records(), partner_records(),
              intent_records()),
    max_size=25,
).map(with_ids)  # fmt: skip


class Oracle:
    """The contract read literally over the full history: every record kept, nothing derived,
    as of each intent's `at` (contract, "As of the intent")."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def add(self, record: Any) -> None:
        self.records.append(record)

    def promotional_reasons(self, intent: SendIntent) -> list[str]:
        reasons = []
        if intent.sender != CONFIG.first_party and not self.agreement_in_force(intent):
            reasons.append("THIRD_PARTY_NO_AGREEMENT")
        # every held opt-out counts; one dated after the intent as if at the intent's `at`
        covering = [
            min(r.at, intent.at) for r in self.records
            if isinstance(r, OptOutRecord) and r.channel == intent.channel
            and r.party in (None, intent.sender)
        ]  # fmt: skip
        latest_optout = max(covering, default=None)
        # grants and confirms count only when dated at or before the intent
        mine = [
            r for r in self.records
            if isinstance(r, ConsentRecord) and r.channel == intent.channel
            and r.party == intent.sender and r.at <= intent.at
            and (latest_optout is None or r.at > latest_optout)
        ]  # fmt: skip
        grants = [r.at for r in mine if r.action == "grant"]
        confirms = [r.at for r in mine if r.action == "confirm"]
        if not grants:
            reasons.append("OPTED_OUT" if covering else "NO_CONSENT")
        elif intent.channel in CONFIG.double_opt_in_channels and not any(
            g <= c for g in grants for c in confirms
        ):
            reasons.append("CONSENT_UNCONFIRMED")
        if not intent.has_opt_out or (
            intent.body is not None and not has_opt_out_mechanism(intent.channel, intent.body)
        ):
            reasons.append("MISSING_OPT_OUT")
        return reasons

    def agreement_in_force(self, intent: SendIntent) -> bool:
        """The held record with the latest `at`, `revoked` winning ties: a signed record counts
        when dated at or before the intent, a revocation whatever its date (after: as at it)."""
        held = [
            (min(r.at, intent.at) if r.agreement == "revoked" else r.at, r)
            for r in self.records
            if isinstance(r, PartnerRecord) and r.party == intent.sender
            and (r.agreement == "revoked" or r.at <= intent.at)
        ]  # fmt: skip
        if not held:
            return False
        latest = max(at for at, _ in held)
        tied = [r for at, r in held if at == latest]
        if any(r.agreement == "revoked" for r in tied):
            return False
        # two signed records at one instant: the stricter expiry holds
        return all(r.expires is None or intent.at < r.expires for r in tied)

    def within_caps(self) -> bool:
        """No key ever held more distinct entries than the state keeps (beyond, it may be
        stricter)."""
        grants: dict[tuple[str, str, str], set[Any]] = {}
        confirms: dict[tuple[str, str], set[Any]] = {}
        signed: dict[str, set[Any]] = {}
        for r in self.records:
            if isinstance(r, ConsentRecord) and r.action == "grant":
                grants.setdefault((r.channel, r.party, r.basis), set()).add(r.at)
            elif isinstance(r, ConsentRecord):
                confirms.setdefault((r.channel, r.party), set()).add(r.at)
            elif isinstance(r, PartnerRecord) and r.agreement == "signed":
                signed.setdefault(r.party, set()).add(r.at)
        return (
            all(len(v) <= GRANTS_KEPT for v in grants.values())
            and all(len(v) <= CONFIRMS_KEPT for v in confirms.values())
            and all(len(v) <= SIGNED_KEPT for v in signed.values())
        )


class Gate:
    """The engine over the same history, in memory."""

    def __init__(self) -> None:
        self.states: dict[str, RecipientState] = {}
        self.agreements = Agreements()

    def feed(self, record: Any, received_at: datetime | None = None) -> Verdict | None:
        if isinstance(record, PartnerRecord):
            self.agreements = self.agreements.apply(record, received_at)
        elif isinstance(record, ConsentRecord | OptOutRecord):
            self.states[record.address] = apply(
                self.states.get(record.address), record, CONFIG, received_at
            )
        else:
            decision = decide(record, self.states.get(record.address), self.agreements, CONFIG,
                              now=record.at)  # fmt: skip
            if decision.new_state is not None:
                self.states[record.address] = decision.new_state
            return decision.verdict
        return None


@st.composite
def promotional_histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """State records with promotional intents slotted in, mostly towards the end."""
    records = draw(st.lists(st.one_of(consent_records(), consent_records(), optout_records(),
                                      partner_records()), max_size=20))  # fmt: skip
    for intent in draw(st.lists(intent_records(("promotional",)), min_size=1, max_size=6)):
        position = draw(st.integers(len(records) // 2, len(records)))
        records.insert(position, intent)
    return with_ids(records)


@settings(max_examples=500, deadline=None)
@given(promotional_histories())
def test_promotional_verdicts_match_the_contract_read_literally(
    history: list[dict[str, Any]],
) -> None:
    oracle, gate = Oracle(), Gate()
    for raw in history:
        record = parse_record(raw)
        verdict = gate.feed(record)
        if isinstance(record, SendIntent) and record.category == "promotional":
            assert verdict is not None
            expected = oracle.promotional_reasons(record)
            event(f"promotional {verdict.reason}")
            if verdict.decision == "allow":
                # (a) never allowed without a grant to this sender later than every covering opt-out
                assert expected == [], (record, verdict, expected)
            elif oracle.within_caps():
                assert list(verdict.reasons) == expected, (record, verdict)
        oracle.add(record)


@st.composite
def out_of_order_histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Records whose arrival order is not their date order: state records dated up to 12 minutes
    (grants dated after every intent among them), intents dated up to 8, all shuffled, so opt-outs
    arrive late, agreement records out of order and grants before the date they take effect."""
    later = st.integers(min_value=0, max_value=12)

    def redated(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "at": at(draw(later))}

    state_records = draw(st.lists(st.one_of(consent_records(), consent_records(),
                                            optout_records(), partner_records()),
                                  max_size=18))  # fmt: skip
    state_records = [redated(r) for r in state_records]
    intents = draw(st.lists(intent_records(("promotional",)), min_size=1, max_size=5))
    return with_ids(draw(st.permutations([*state_records, *intents])))


@settings(max_examples=500, deadline=None)
@given(out_of_order_histories(), st.lists(st.integers(0, 12), min_size=30, max_size=30))
def test_no_promotional_allow_without_consent_valid_as_of_the_intent(
    history: list[dict[str, Any]], receipt_minutes: list[int]
) -> None:
    """Whatever the receipt clock says (it picks what the caps keep), never more permissive."""
    oracle, gate = Oracle(), Gate()
    for raw, received in zip(history, receipt_minutes, strict=False):
        record = parse_record(raw)
        verdict = gate.feed(record, BASE + timedelta(minutes=received))
        if isinstance(record, SendIntent):
            assert verdict is not None
            expected = oracle.promotional_reasons(record)
            event(f"as-of {verdict.reason}")
            if verdict.decision == "allow":
                assert expected == [], (record, verdict, expected)
            elif oracle.within_caps():
                assert list(verdict.reasons) == expected, (record, verdict, expected)
        oracle.add(record)


@settings(max_examples=200, deadline=None)
@given(histories, st.sampled_from(("transactional", "legal")),
       st.sampled_from(NOT_PROMOTIONAL[:20]), channels)  # fmt: skip
def test_service_messages_of_the_first_party_are_allowed_whatever_the_state(
    history: list[dict[str, Any]], category: str, body: str, channel: str
) -> None:
    gate = Gate()
    for raw in history:
        gate.feed(parse_record(raw))
    for text in (body, None):
        intent = parse_record({
            "type": "intent", "id": "svc", "at": at(30), "channel": channel,
            "address": ADDRESS[channel], "sender": "company", "category": category,
            "has_opt_out": False, "jurisdiction": "US", **({"body": text} if text else {}),
        })  # fmt: skip
        verdict = gate.feed(intent)
        assert verdict is not None and verdict.decision == "allow"
        assert (
            verdict.reason
            == {"transactional": "TRANSACTIONAL", "legal": "LEGAL_REQUIRED"}[category]
        )


garbage = st.sampled_from((b"{not json", b"[]", b'{"type": "gossip", "id": "g"}', b'"x"',
                           b'{"type": "intent", "id": "bad", "channel": "pigeon"}'))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(histories, st.lists(st.tuples(st.integers(0, 25), garbage), max_size=4))
def test_replaying_a_file_twice_gives_identical_output(
    history: list[dict[str, Any]], noise: list[tuple[int, bytes]]
) -> None:
    lines = [orjson.dumps(record) for record in history]
    for position, line in noise:
        lines.insert(min(position, len(lines)), line)

    def run() -> list[bytes]:
        return [
            orjson.dumps(item.to_dict()) if isinstance(item, Verdict) else str(item).encode()
            for item in replay_records(lines, CONFIG)
        ]

    assert run() == run()


@settings(max_examples=300, deadline=None)
@given(histories, st.data())
def test_reapplying_any_record_changes_nothing(
    history: list[dict[str, Any]], data: st.DataObject
) -> None:
    state = EMPTY_STATE
    applied: list[ConsentRecord | OptOutRecord] = []
    for raw in history:
        record = parse_record(raw)
        if isinstance(record, ConsentRecord | OptOutRecord):
            state = apply(state, record, CONFIG)
            applied.append(record)
            again = data.draw(st.sampled_from(applied))
            reapplied = apply(state, again, CONFIG)
            assert reapplied is state, again
            assert encode_state(reapplied) == encode_state(state)


@settings(max_examples=300, deadline=None)
@given(histories)
def test_state_encoding_round_trips(history: list[dict[str, Any]]) -> None:
    gate = Gate()
    for raw in history:
        gate.feed(parse_record(raw))
        for state in gate.states.values():
            assert decode_state(encode_state(state)) == state


@settings(max_examples=300, deadline=None)
@given(histories)
def test_redeciding_an_intent_on_the_state_it_left_reproduces_its_verdict(
    history: list[dict[str, Any]],
) -> None:
    gate = Gate()
    for raw in history:
        record = parse_record(raw)
        if isinstance(record, SendIntent):
            before = gate.states.get(record.address)
            first = decide(record, before, gate.agreements, CONFIG, now=record.at)
            after = first.new_state or before
            again = decide(record, after, gate.agreements, CONFIG, now=record.at)
            assert again.verdict == first.verdict
            assert again.new_state is None
        gate.feed(record)


def test_epoch_ms_matches_the_text_instant() -> None:
    record = parse_record({"type": "partner", "id": "p", "at": "1970-01-01T00:00:01.5Z",
                           "party": "x", "agreement": "signed"})  # fmt: skip
    assert epoch_ms(record.at) == 1500
