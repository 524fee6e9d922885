"""What a rule says when asked why: the opt-in explanation path (`consentgate explain`).

decide() never builds these. `explain.explain()` runs the same rule modules on the same facts and
asks each rule's `explain(ctx)` for a `Why`: the words, and the ids of the records it relied on.
Record ids come from the context's `provenance` when the caller has one (the explain command
re-reads the scenario file, so it knows every record's id); the state itself keeps no grant ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.policy.times import format_instant, from_epoch_ms


@dataclass(frozen=True, slots=True)
class Why:
    """Why a rule came out as it did, and the records (ids) it relied on."""

    because: str
    relied_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleFinding:
    """One rule evaluated for one intent: its outcome, the codes it produced, and why."""

    rule: str
    kind: str  # "rule" (produces codes) or "parameter" (a jurisdiction rule feeding another)
    outcome: str  # "allow", "deny" or "pass"
    codes: tuple[str, ...]
    statement: str
    because: str
    relied_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "outcome": self.outcome,
            "codes": list(self.codes),
            "statement": self.statement,
            "because": self.because,
            "relied_on": list(self.relied_on),
        }


def when(ms: int) -> str:
    """An epoch-millisecond instant as contract text."""
    return format_instant(from_epoch_ms(ms))


def party_text(party: str | None) -> str:
    return "every party" if party is None else party


def cite(record_id: str | None, what: str) -> str:
    """`opt-out o1 (sms, every party, 2026-...)` or, without an id, `an opt-out (...)`."""
    return f"{what} {record_id}" if record_id else f"a{'n' if what[0] in 'aeiou' else ''} {what}"


def ids(*values: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
