"""Every rule is documented and shown working both ways, through the whole engine."""

from __future__ import annotations

from types import ModuleType

import pytest

from streams.policy.reasons import ALLOW_CODES, DENY_PRECEDENCE
from streams.policy.rules import PARAMETER_RULES, RULES
from streams.policy.rules.cases import Case

from .support import verdicts

ALL_CASES = [(rule, case) for rule in RULES for case in rule.CASES]
PARAMETER_CASES = [(rule, case) for rule in PARAMETER_RULES for case in rule.CASES]
# The legal sources the jurisdiction rules must cite (research: shared/research/jurisdictions.md).
LEGAL_SOURCES = {
    "consent_basis": ("CASL s.10(9)-(10)", "PECR reg 22(3)", "S.I. 336/2011 reg 13(11)",
                      "UWG art. 3(1)(o)"),
    "consent_expiry": ("CASL", "S.I. 336/2011"),
    "quiet_hours": ("47 CFR 64.1200(c)(1)", "CRTC Unsolicited Telecommunications Rules",
                    "TRAI TCCCPR 2018", "mini-TCPA"),
    "covered_together": ("FCC 24-24", "47 CFR 64.1200(a)(10)"),
    "confirmation_window": ("FCC 24-24", "47 CFR 64.1200(a)(12)"),
}  # fmt: skip


def _name(rule: ModuleType) -> str:
    return rule.__name__.rsplit(".", 1)[-1]


def _case_id(item: tuple[ModuleType, Case]) -> str:
    rule, case = item
    return f"{rule.__name__.rsplit('.', 1)[-1]}: {case.name}"


@pytest.mark.parametrize("rule", RULES, ids=_name)
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
    assert callable(rule.explain), "every rule can say why"


@pytest.mark.parametrize("rule", PARAMETER_RULES, ids=_name)
def test_parameter_rule_is_documented_and_has_both_kinds_of_case(rule: ModuleType) -> None:
    assert rule.RULE_ID not in DENY_PRECEDENCE and rule.RULE_ID not in ALLOW_CODES
    assert rule.CODES and set(rule.CODES) <= set(DENY_PRECEDENCE)
    assert rule.STATEMENT.strip() and "policy" in rule.STATEMENT
    assert rule.APPLIES_TO
    assert hasattr(rule, "covering_channels") or hasattr(rule, "confirmation_window_ms")
    assert {case.expect for case in rule.CASES} == {"allow", "deny"}
    for case in rule.CASES:
        if case.expect == "deny":
            assert case.code in rule.CODES
    assert callable(rule.explain)


@pytest.mark.parametrize("name", sorted(LEGAL_SOURCES))
def test_jurisdiction_rules_cite_their_legal_source(name: str) -> None:
    (rule,) = [r for r in (*RULES, *PARAMETER_RULES) if _name(r) == name]
    for source in LEGAL_SOURCES[name]:
        assert source in rule.STATEMENT, f"{name} should cite {source}"


def test_rule_ids_of_all_kinds_are_unique() -> None:
    ids = [rule.RULE_ID for rule in (*RULES, *PARAMETER_RULES)]
    assert len(ids) == len(set(ids))


def test_rule_ids_are_unique_and_in_precedence_order() -> None:
    ids = [rule.RULE_ID for rule in RULES]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids, key=DENY_PRECEDENCE.index)


def test_every_allow_code_is_granted_by_some_rule() -> None:
    assert {code for rule in RULES for code in rule.ALLOWS} == set(ALLOW_CODES)


@pytest.mark.parametrize(
    "item", ALL_CASES + PARAMETER_CASES, ids=[_case_id(i) for i in ALL_CASES + PARAMETER_CASES]
)
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
