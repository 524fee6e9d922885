"""explain(): every rule evaluated for one intent, whether it passed, and why. The opt-in path.

It runs the very rule modules decide() runs, on the same facts (engine.new_context: the state as
of the intent's `at`), and asks each rule's `explain(ctx)` what it relied on; parameter rules (J3,
J4) say how they shaped the facts. Where a record held is dated after the intent, the rules say so
(from the view's `base`): a grant or confirm that does not count yet, an opt-out that counts as of
the intent, an agreement signed too late or revoked after it.
The verdict is decide()'s own, so an explanation can never disagree with the decision it explains.
decide() builds no explanation and pays nothing for this.

Record ids: the state keeps times, not ids, for grants and opt-outs (ids would grow every state
that is read and written per record), so callers that want ids pass a `provenance` lookup. The
`consentgate explain` command has the scenario file and builds one from its records; without one,
opt-outs are still named from the state's recent opt-out marks and agreements by their record ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.policy.config import PolicyConfig
from streams.policy.context import Provenance
from streams.policy.engine import decide, new_context
from streams.policy.findings import RuleFinding
from streams.policy.reasons import ALLOW_SET
from streams.policy.records import SendIntent, Verdict
from streams.policy.rules import parameter_rules_for, rules_for
from streams.policy.state import Agreement, RecipientState


@dataclass(frozen=True, slots=True)
class Explanation:
    """A verdict and the findings behind it, in evaluation order."""

    verdict: Verdict
    findings: tuple[RuleFinding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


def explain(
    intent: SendIntent,
    state: RecipientState | None,
    agreements: Mapping[str, Agreement],
    config: PolicyConfig,
    *,
    provenance: Provenance | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Why `intent` gets the verdict decide() gives it on this state."""
    verdict = decide(intent, state, agreements, config, now=now).verdict
    ctx = new_context(intent, state, agreements, config, provenance)
    findings: list[RuleFinding] = []
    for rule in rules_for(intent.category):
        result = rule.check(ctx)
        codes = () if result is None else (result,) if isinstance(result, str) else tuple(result)
        denied = [code for code in codes if code not in ALLOW_SET]
        outcome = "deny" if denied else "allow" if codes else "pass"
        why = rule.explain(ctx)
        findings.append(RuleFinding(rule.RULE_ID, "rule", outcome, codes, rule.STATEMENT,
                                    why.because, why.relied_on))  # fmt: skip
    for parameter in parameter_rules_for(intent.category):
        why = parameter.explain(ctx)
        findings.append(RuleFinding(parameter.RULE_ID, "parameter", "pass", (), parameter.STATEMENT,
                                    why.because, why.relied_on))  # fmt: skip
    return Explanation(verdict, tuple(findings))


__all__ = ["Explanation", "RuleFinding", "explain"]
