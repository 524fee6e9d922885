"""decide(): one send intent, the state its recipient's records built, the agreements → a verdict.

Deny by default: an intent is allowed only when a rule granted an allow code for its category and
no rule denied it. Every applicable rule runs, so `reasons` lists every deny code that applied,
most decisive first; `reason` is the first of them, or the allow code (`reasons` then holds just
that code, so `reason == reasons[0]` always).

Jurisdiction rules read the table `config` names (jurisdictions.table_for: loaded once, then only
looked up). A denied verdict's `detail` carries what a rule noted where a code alone would not tell
(QUIET_HOURS: the local time and the window, or why the local time cannot be told).

As of the intent: the rules read `state.as_of(intent's at)`, so grants, confirms and signed
agreements dated after the intent do not count and opt-outs and revocations count whatever their
date (contract, "As of the intent"); agreements answer `in_force(at)` the same way.

Each verdict names the records it relied on (`_relied_on`: the grant, the confirm, the agreement,
the covering opt-out; issue 15 §1), read from facts the rules already computed, so naming them
costs no second evaluation.

Pure: the state change an allowed intent makes (an opt-out confirmation remembered) is returned,
not applied, in `Decision.new_state` (always a full state, never an as-of view); the caller stores
it. Re-deciding an intent on the state its first decision produced gives the same verdict, which
at-least-once reprocessing relies on; `intent_digest` tells a re-delivered intent from a different
one reusing its id, which must not get the first one's verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any, Final

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.context import Context, Provenance
from streams.policy.jurisdictions import table_for
from streams.policy.quick_init import quick_init
from streams.policy.reasons import ALLOW_SET, DENY_RANK, INVALID_INTENT
from streams.policy.records import CATEGORIES, SendIntent, Verdict, violation_for
from streams.policy.rules import (
    CONFIRMATION_HOOKS,
    COVERAGE_HOOKS,
    GRANT_CHECKS,
    RULES,
    parameter_rules_for,
    rules_for,
)
from streams.policy.state import EMPTY_STATE, Agreement, RecipientState
from streams.policy.times import epoch_ms, parse_instant

ALLOW: Final = "allow"
DENY: Final = "deny"

_Check = Callable[[Context], "str | list[str] | tuple[str, ...] | None"]
_Hook = Callable[[Context], "RecipientState | None"]


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, and the recipient state to store after it (None: unchanged)."""

    verdict: Verdict
    new_state: RecipientState | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    """The rules of one category, unpacked once so that decide() only calls functions."""

    rule_ids: tuple[str, ...]
    checks: tuple[_Check, ...]
    on_allow: tuple[_Hook, ...]


def _plan(category: str) -> _Plan:
    rules = rules_for(category)
    parameters = parameter_rules_for(category)
    return _Plan(
        (*(rule.RULE_ID for rule in rules), *(parameter.RULE_ID for parameter in parameters)),
        tuple(rule.check for rule in rules),
        tuple(rule.on_allow for rule in rules if hasattr(rule, "on_allow")),
    )


def _assert_codes_known() -> None:
    for rule in RULES:
        if rule.RULE_ID not in DENY_RANK or not set(rule.ALLOWS) <= ALLOW_SET:
            raise RuntimeError(f"rule {rule.__name__} uses a code missing from reasons.py")


_assert_codes_known()
_PLANS: Final = {category: _plan(category) for category in CATEGORIES}
_INVALID_ONLY: Final = (INVALID_INTENT,)


def decide(
    intent: SendIntent,
    state: RecipientState | None,
    agreements: Mapping[str, Agreement],
    config: PolicyConfig,
    *,
    now: datetime | None = None,
    recipient_ref: str | None = None,
) -> Decision:
    """The verdict for `intent` as of its `at`. `now` stamps `decided_at` (default: the clock);
    `recipient_ref`, the caller's pseudonym of the recipient, is carried into the verdict (the
    engine keeps no key: pseudonym.py)."""
    held = EMPTY_STATE if state is None else state
    if held.horizon > (at_ms := epoch_ms(intent.at)):  # something held is dated after the intent
        held = held.as_of(at_ms)
    ctx = Context(  # new_context(), inlined: this is the hot path
        intent, held, agreements, config, GRANT_CHECKS,
        table=table_for(config), coverage_hooks=COVERAGE_HOOKS,
        confirmation_hooks=CONFIRMATION_HOOKS,
    )  # fmt: skip
    plan = _PLANS[intent.category]
    denied: list[str] = []
    allow_code: str | None = None
    for check in plan.checks:
        result = check(ctx)
        if result is None:
            continue
        for code in (result,) if isinstance(result, str) else result:
            if code in ALLOW_SET:
                allow_code = allow_code or code
            else:
                denied.append(code)
    decided_at = datetime.now(UTC) if now is None else now
    echo = (intent.channel, intent.sender, intent.category, intent.at, *_relied_on(ctx))
    if denied:
        reasons = _by_precedence(denied)
        detail = None if ctx.notes is None else "; ".join(ctx.notes)
        verdict = Verdict(
            intent.id, DENY, reasons[0], reasons, config.policy_version, plan.rule_ids,
            decided_at, detail, *echo, recipient_ref,
        )  # fmt: skip
        return Decision(verdict)
    if allow_code is None:  # nothing denied, but nothing allowed either: not checkable
        verdict = Verdict(
            intent.id, DENY, INVALID_INTENT, _INVALID_ONLY, config.policy_version, plan.rule_ids,
            decided_at, f"no rule allows category {intent.category!r}", *echo, recipient_ref,
        )  # fmt: skip
        return Decision(verdict)
    verdict = Verdict(
        intent.id, ALLOW, allow_code, (allow_code,), config.policy_version, plan.rule_ids,
        decided_at, None, *echo, recipient_ref,
    )  # fmt: skip
    new_state: RecipientState | None = None
    for hook in plan.on_allow:
        changed = hook(ctx)
        if changed is not None:
            new_state = ctx.state = changed
    return Decision(verdict, new_state)


_NOTHING_RELIED: Final = (None, None, None, None)
_RELIES_ON_CONSENT: Final = "promotional"
_RELIES_ON_OPTOUT: Final = "optout_confirmation"


def _relied_on(ctx: Context) -> tuple[str | None, str | None, str | None, str | None]:
    """(grant id, confirm id, agreement id, covering opt-out id) the decision rested on."""
    intent = ctx.intent
    agreement_id = None if intent.sender == ctx.config.first_party else _agreement_id(ctx)
    category = intent.category
    if category == _RELIES_ON_CONSENT:
        grant = ctx.relied_grant()
        optout_id = ctx.covering_optout_id()
        if grant is None:
            return (None, None, agreement_id, optout_id)
        return (grant.id, grant.confirm_id, agreement_id, optout_id)
    if category == _RELIES_ON_OPTOUT:
        mark = ctx.confirmable_optout()
        return (None, None, agreement_id, None if mark is None else mark.id)
    if agreement_id is None:
        return _NOTHING_RELIED
    return (None, None, agreement_id, None)


def _agreement_id(ctx: Context) -> str | None:
    """The partner record in force at the intent; denied, the revocation or expired record."""
    agreement = ctx.agreement()
    if agreement is None:
        return None
    at = ctx.at_ms
    signed = agreement.signed_as_of(at)
    revoked = agreement.revoked_at
    if revoked is not None and (revoked >= at or signed is None):
        return agreement.revoked_id
    return None if signed is None else signed.id


def new_context(
    intent: SendIntent,
    state: RecipientState | None,
    agreements: Mapping[str, Agreement],
    config: PolicyConfig,
    provenance: Provenance | None = None,
) -> Context:
    """The context every rule of this engine reads: the table `config` names and every hook, on
    the state as of the intent's `at` (RecipientState.as_of)."""
    held = (EMPTY_STATE if state is None else state).as_of(epoch_ms(intent.at))
    return Context(
        intent, held, agreements, config, GRANT_CHECKS,
        table=table_for(config), coverage_hooks=COVERAGE_HOOKS,
        confirmation_hooks=CONFIRMATION_HOOKS, provenance=provenance,
    )  # fmt: skip


def _by_precedence(codes: list[str]) -> tuple[str, ...]:
    if len(codes) == 1:
        return (codes[0],)
    return tuple(sorted(set(codes), key=DENY_RANK.__getitem__))


def invalid_verdict(
    intent_id: str,
    error: Exception | str,
    config: PolicyConfig,
    raw: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Verdict:
    """The deny for an intent that failed validation: the gate never allows what it cannot check.
    `error` becomes the verdict's `detail`; `raw`, the undecodable intent, lends the verdict what
    of channel, sender, category and at is readable (as given: they were not validated)."""
    return unchecked_verdict(intent_id, INVALID_INTENT, error, config, raw, now=now)


def unchecked_verdict(
    intent_id: str,
    code: str,
    error: Exception | str,
    config: PolicyConfig,
    raw: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Verdict:
    """A deny with one code for an intent no rule could evaluate (invalid, or the gate unable)."""
    if code not in DENY_RANK:
        raise ValueError(f"unknown deny code {code!r}")
    decided_at = datetime.now(UTC) if now is None else now
    raw = raw or {}
    try:
        intent_at: datetime | None = parse_instant(raw.get("at"), "at")
    except ValueError:
        intent_at = None
    return Verdict(
        intent_id, DENY, code, (code,), config.policy_version, (code,),
        decided_at, str(error), _text(raw.get("channel")), _text(raw.get("sender")),
        _text(raw.get("category")), intent_at,
    )  # fmt: skip


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_INTENT_FIELDS: Final = tuple(f.name for f in fields(SendIntent))


def intent_digest(intent: SendIntent) -> bytes:
    """16 bytes that differ for any two intents that differ in any field (id included), and stay
    the same across processes and versions: blake2b of the canonical JSON of the fields that are
    set, by name, so adding an optional field leaves existing digests alone. Instants are epoch
    milliseconds, the precision the gate decides on."""
    fields_set: dict[str, Any] = {}
    for name in _INTENT_FIELDS:
        value = getattr(intent, name)
        if value is None:
            continue
        fields_set[name] = epoch_ms(value) if isinstance(value, datetime) else value
    canonical = orjson.dumps(fields_set, option=orjson.OPT_SORT_KEYS, default=repr)
    return blake2b(canonical, digest_size=16, person=b"consentgate-int").digest()


__all__ = [
    "Decision",
    "decide",
    "intent_digest",
    "invalid_verdict",
    "unchecked_verdict",
    "violation_for",
]
