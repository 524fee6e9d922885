"""The rules, one module each, in evaluation order (the contract's precedence order).

A rule module has: `RULE_ID` (the deny code it produces), `ALLOWS` (allow codes it may grant),
`APPLIES_TO` (the categories it checks), `STATEMENT` (one line, citing the policy and, for a
jurisdiction rule, the law), `CASES` (allowed and denied examples the tests replay), `check(ctx)`
returning the codes that applied, and `explain(ctx)` saying why (the opt-in explanation path). It
may add `grant_check(grant, ctx)` (a condition every consent grant must meet, such as double
opt-in) and `on_allow(ctx)` (the state change an allowed intent makes). Adding a rule is adding a
module and a line here; `protocol.py` types both kinds, so mypy checks every module's shape.

Parameter rules (`PARAMETER_RULES`) are jurisdiction rules that produce no code of their own but
change a fact other rules use: `RULE_ID` (an id of their own), `CODES` (the deny codes they can lead
to), `APPLIES_TO`, `STATEMENT`, `CASES`, `explain(ctx)`, and a hook: `covering_channels(ctx)`
(which channels' opt-outs cover the intent, J3) or `confirmation_window_ms(ctx)` (J4).
"""

from __future__ import annotations

from typing import Final

from streams.policy.context import CoverageHook, GrantCheck, WindowHook
from streams.policy.rules import (
    confirmation_window,
    consent,
    consent_basis,
    consent_expiry,
    covered_together,
    double_opt_in,
    opt_out_mechanism,
    opted_out,
    optout_confirmation,
    promotional_content,
    quiet_hours,
    third_party_agreement,
)
from streams.policy.rules.protocol import ParameterRule, Rule

RULES: Final[tuple[Rule, ...]] = (
    third_party_agreement,
    promotional_content,
    optout_confirmation,
    opted_out,
    consent,
    consent_basis,
    consent_expiry,
    double_opt_in,
    opt_out_mechanism,
    quiet_hours,
)

PARAMETER_RULES: Final[tuple[ParameterRule, ...]] = (covered_together, confirmation_window)

GRANT_CHECKS: Final[tuple[GrantCheck, ...]] = tuple(
    rule.grant_check for rule in RULES if hasattr(rule, "grant_check")
)
COVERAGE_HOOKS: Final[tuple[CoverageHook, ...]] = tuple(
    rule.covering_channels for rule in PARAMETER_RULES if hasattr(rule, "covering_channels")
)
CONFIRMATION_HOOKS: Final[tuple[WindowHook, ...]] = tuple(
    rule.confirmation_window_ms
    for rule in PARAMETER_RULES
    if hasattr(rule, "confirmation_window_ms")
)


def rules_for(category: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if category in rule.APPLIES_TO)


def parameter_rules_for(category: str) -> tuple[ParameterRule, ...]:
    return tuple(rule for rule in PARAMETER_RULES if category in rule.APPLIES_TO)


__all__ = [
    "CONFIRMATION_HOOKS",
    "COVERAGE_HOOKS",
    "GRANT_CHECKS",
    "PARAMETER_RULES",
    "RULES",
    "parameter_rules_for",
    "rules_for",
]
