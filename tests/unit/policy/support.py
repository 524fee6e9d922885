"""Shared helpers of the policy tests: where the contract lives, and running records in memory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from streams.policy.config import PolicyConfig
from streams.policy.records import Verdict
from streams.policy.replay import replay_objects

REPO = Path(__file__).resolve().parents[3]
SHARED = (REPO / ".." / "shared").resolve()
SCENARIOS = SHARED / "contract" / "scenarios"
JURISDICTION_SCENARIOS = SHARED / "contract" / "jurisdiction-scenarios"
CONFIG = PolicyConfig()


def verdicts(records: Iterable[dict[str, Any]], config: PolicyConfig = CONFIG) -> list[Verdict]:
    """The verdicts replaying `records` gives, in order (line errors dropped)."""
    return [item for item in replay_objects(records, config) if isinstance(item, Verdict)]
