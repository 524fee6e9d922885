"""Every rule is documented and shown working both ways, through the whole engine."""

from __future__ import annotations

from types import ModuleType

import pytest

from streams.policy.reasons import ALLOW_CODES, DENY_PRECEDENCE
from streams.policy.rules import RULES
from streams.policy.rules.cases import Case

from .support import verdicts

ALL_CASES = [(rule, case) for rule in RULES for case in rule.CASES]


def _case_id(item: tuple[ModuleType, Case]) -> str:
    rule, case = item
    return f"{rule.__name__.rsplit('.', 1)[-1]}: {case.name}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__.rsplit(".", 1)[-1])
def test_rule_is_documented_and_has_both_kinds_of_case(rule: ModuleType) -> None:
    assert rule.RULE_ID in DENY_PRECEDENCE
    assert set(rule.ALLOWS) <= set(ALLOW_CODES)
    assert rule.STATEMENT.strip() and "policy" in rule.STATEMENT
    assert rule.APPLIES_TO, "a rule that applies to no category is dead code"
    kinds = {case.expect for case in rule.CASES}
    assert kinds == {"allow", "deny"}, f"{rule.__name__} needs allowed and denied cases"
    for case in rule.CASES:
        if case.expect == "deny":
            assert case.code == rule.RULE_ID, "a rule's denied case shows its own code"


def test_rule_ids_are_unique_and_in_precedence_order() -> None:
    ids = [rule.RULE_ID for rule in RULES]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids, key=DENY_PRECEDENCE.index)


def test_every_allow_code_is_granted_by_some_rule() -> None:
    assert {code for rule in RULES for code in rule.ALLOWS} == set(ALLOW_CODES)


@pytest.mark.parametrize("item", ALL_CASES, ids=[_case_id(i) for i in ALL_CASES])
def test_case(item: tuple[ModuleType, Case]) -> None:
    rule, case = item
    *_, verdict = verdicts(case.records)
    assert verdict.id == case.intent["id"]
    assert rule.RULE_ID in verdict.rules_evaluated
    if case.expect == "allow":
        assert (verdict.decision, verdict.reason) == ("allow", case.code), verdict
        assert verdict.reasons == (case.code,)
    else:
        assert verdict.decision == "deny", verdict
        assert case.code in verdict.reasons, verdict
