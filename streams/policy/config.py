"""Policy parameters. Pure data: `streams.settings` reads the environment and fills them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What the decision core needs to know beyond the records themselves."""

    first_party: str = field(
        default="company",
        metadata={"env": "CONSENTGATE_FIRST_PARTY", "doc": "Party id of the company itself."},
    )
    optout_confirmation_window: timedelta = field(
        default=timedelta(hours=24),
        metadata={
            "env": "CONSENTGATE_OPTOUT_CONFIRMATION_WINDOW_S",
            "doc": "How long after an opt-out one confirmation message may go, in seconds.",
        },
    )
    double_opt_in_channels: frozenset[str] = field(
        default=frozenset({"email"}),
        metadata={
            "env": "CONSENTGATE_DOUBLE_OPT_IN_CHANNELS",
            "doc": "Comma-separated channels whose express consent needs a confirm after a grant.",
        },
    )
    policy_version: str = field(
        default="no-unsolicited-advertising/2026-06",
        metadata={
            "env": "CONSENTGATE_POLICY_VERSION",
            "doc": "Version string stamped on every verdict, naming the policy text enforced.",
        },
    )
    jurisdiction_table: Path | None = field(
        default=None,
        metadata={
            "env": "CONSENTGATE_JURISDICTION_TABLE",
            "doc": "TOML file laid over the shipped jurisdiction table (quiet hours, consent "
            "bases, opt-out rules per country and state; docs/jurisdictions.md). Unset: the "
            "shipped table alone.",
        },
    )
