"""Example cases for rules, as data: records in the contract's JSON shape, the intent last.

Every rule module lists allowed and denied cases built with these helpers; the unit tests replay
them through the whole engine, so a case shows the rule working among all the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

# Monday 1 June 2026, 11:00 in San Francisco (PHONE's zone): inside every US quiet-hours window.
BASE: Final = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
PHONE: Final = "+14155550101"
EMAIL: Final = "alice@example.com"
SMS_PROMO: Final = "Summer plans: 20% off all data bundles this week. Reply STOP to opt out."
EMAIL_PROMO: Final = "Autumn collection, 15% off for members. Unsubscribe: https://example.com/u/a1"


@dataclass(frozen=True, slots=True)
class Case:
    """`expect` is "allow" (then `code` is the allow code) or "deny" (then `code` is in reasons)."""

    name: str
    expect: str
    code: str
    records: tuple[dict[str, Any], ...]

    @property
    def intent(self) -> dict[str, Any]:
        return self.records[-1]


def allow(name: str, code: str, *records: dict[str, Any]) -> Case:
    return Case(name, "allow", code, records)


def deny(name: str, code: str, *records: dict[str, Any]) -> Case:
    return Case(name, "deny", code, records)


def at(minutes: float) -> str:
    """An instant `minutes` after the cases' base time, as contract text."""
    return (BASE + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _address(channel: str) -> str:
    return EMAIL if channel == "email" else PHONE


def consent(
    minutes: float,
    *,
    channel: str = "sms",
    party: str = "company",
    action: str = "grant",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "consent", "id": f"c-{channel}-{party}-{action}-{minutes}", "at": at(minutes),
        "channel": channel, "address": _address(channel), "party": party, "purpose": "marketing",
        "action": action, "jurisdiction": "US", "evidence": {"source": "web_form"}, **extra,
    }  # fmt: skip


def optout(
    minutes: float, *, channel: str = "sms", party: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "optout", "id": f"o-{channel}-{party}-{minutes}", "at": at(minutes),
        "channel": channel, "address": _address(channel), "party": party,
        "method": "sms_keyword" if channel != "email" else "unsubscribe_link", "jurisdiction": "US",
        **extra,
    }  # fmt: skip


def partner(
    minutes: float, party: str = "acme-partner", agreement: str = "signed", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "partner", "id": f"p-{party}-{agreement}-{minutes}", "at": at(minutes),
        "party": party, "agreement": agreement, **extra,
    }  # fmt: skip


def intent(
    minutes: float,
    *,
    category: str = "promotional",
    channel: str = "sms",
    sender: str = "company",
    has_opt_out: bool | None = None,
    body: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A send intent; a promotional one gets a body showing the opt-out unless `body` is given
    (`body=""`: no body at all)."""
    if body is None and category == "promotional":
        body = EMAIL_PROMO if channel == "email" else SMS_PROMO
    record = {
        "type": "intent", "id": f"m-{minutes}", "at": at(minutes), "channel": channel,
        "address": _address(channel), "sender": sender, "category": category,
        "has_opt_out": category == "promotional" if has_opt_out is None else has_opt_out,
        "jurisdiction": "US", **extra,
    }  # fmt: skip
    if body:
        record["body"] = body
    return record
