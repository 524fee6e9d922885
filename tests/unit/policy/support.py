"""Shared helpers of the policy tests: the scenario folders, and running records in memory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.policy.config import PolicyConfig
from streams.policy.records import Verdict
from streams.policy.replay import replay_objects
from tests.data import scenario_dir

SCENARIOS = scenario_dir("scenarios")
JURISDICTION_SCENARIOS = scenario_dir("jurisdiction-scenarios")
CONFIG = PolicyConfig()


def verdicts(records: Iterable[dict[str, Any]], config: PolicyConfig = CONFIG) -> list[Verdict]:
    """The verdicts replaying `records` gives, in order (line errors dropped)."""
    return [item for item in replay_objects(records, config) if isinstance(item, Verdict)]
