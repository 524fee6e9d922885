"""What a rule module is, as types mypy checks: `RULES` and `PARAMETER_RULES` are typed with
these protocols, so a rule module missing a member, or with a member of the wrong type, fails
`make typecheck` rather than a test at run time. Module attributes are read-only (`Final`), so
the protocols declare them as properties."""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol

from streams.policy.context import Context
from streams.policy.findings import Why
from streams.policy.rules.cases import Case


class Rule(Protocol):
    """A rule that produces a deny code of its own (or grants an allow code)."""

    @property
    def __name__(self) -> str: ...

    @property
    def RULE_ID(self) -> str: ...

    @property
    def ALLOWS(self) -> tuple[str, ...]: ...

    @property
    def APPLIES_TO(self) -> Set[str]: ...

    @property
    def STATEMENT(self) -> str: ...

    @property
    def CASES(self) -> tuple[Case, ...]: ...

    def check(self, ctx: Context) -> str | None: ...

    def explain(self, ctx: Context) -> Why: ...


class ParameterRule(Protocol):
    """A jurisdiction rule that changes a fact other rules use (J3, J4): no code of its own."""

    @property
    def __name__(self) -> str: ...

    @property
    def RULE_ID(self) -> str: ...

    @property
    def CODES(self) -> tuple[str, ...]: ...

    @property
    def APPLIES_TO(self) -> Set[str]: ...

    @property
    def STATEMENT(self) -> str: ...

    @property
    def CASES(self) -> tuple[Case, ...]: ...

    def explain(self, ctx: Context) -> Why: ...
