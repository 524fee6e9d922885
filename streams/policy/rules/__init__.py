"""The rules, one module each, in evaluation order (the contract's precedence order).

A rule module has: `RULE_ID` (the deny code it produces), `ALLOWS` (allow codes it may grant),
`APPLIES_TO` (the categories it checks), `STATEMENT` (one line, citing the policy), `CASES`
(allowed and denied examples the tests replay) and `check(ctx)` returning the codes that applied.
It may add `grant_check(grant, ctx)` (a condition every consent grant must meet, such as double
opt-in) and `on_allow(ctx)` (the state change an allowed intent makes). Adding a rule is adding a
module and a line here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from streams.policy.context import GrantCheck
from streams.policy.rules import (
    consent,
    consent_basis,
    double_opt_in,
    opt_out_mechanism,
    opted_out,
    optout_confirmation,
    promotional_content,
    third_party_agreement,
)

RULES: Final[tuple[ModuleType, ...]] = (
    third_party_agreement,
    promotional_content,
    optout_confirmation,
    opted_out,
    consent,
    consent_basis,
    double_opt_in,
    opt_out_mechanism,
)

GRANT_CHECKS: Final[tuple[GrantCheck, ...]] = tuple(
    rule.grant_check for rule in RULES if hasattr(rule, "grant_check")
)


def rules_for(category: str) -> tuple[ModuleType, ...]:
    return tuple(rule for rule in RULES if category in rule.APPLIES_TO)


__all__ = ["GRANT_CHECKS", "RULES", "rules_for"]
