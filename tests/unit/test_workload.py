"""The workload's phone numbers stay valid at benchmark sizes, so its invalid share is its own."""

from __future__ import annotations

import pytest

from streams.devtools.workload import COUNTRIES, make_recipients
from streams.policy.addresses import InvalidAddress, normalize_address


@pytest.mark.parametrize(
    ("jurisdiction", "pattern", "base"), [(c[0], c[2], c[3]) for c in COUNTRIES]
)
def test_every_country_pattern_is_valid_up_to_a_million_recipients(
    jurisdiction: str, pattern: str, base: int
) -> None:
    for n in range(0, 1_000_000, 4999):
        normalize_address("sms", pattern.format(base + n), jurisdiction)


def test_generated_recipients_have_valid_addresses() -> None:
    invalid = []
    for r in make_recipients(20_000)[::7]:
        try:
            normalize_address(r.channel, r.address, r.jurisdiction)
        except InvalidAddress:
            invalid.append(r)
    assert invalid == []
