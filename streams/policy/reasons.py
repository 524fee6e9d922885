"""Every reason code, and the one precedence order that picks a verdict's `reason`.

The order is the contract's (README.md, then jurisdictions.md). The jurisdiction codes are listed
already so that adding their rules later changes no order here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# Allow codes: one per category, each granted by the rule that governs that category.
CONSENT_VALID: Final = "CONSENT_VALID"
TRANSACTIONAL: Final = "TRANSACTIONAL"
LEGAL_REQUIRED: Final = "LEGAL_REQUIRED"
OPTOUT_CONFIRMATION: Final = "OPTOUT_CONFIRMATION"

# Deny codes.
INVALID_INTENT: Final = "INVALID_INTENT"
THIRD_PARTY_NO_AGREEMENT: Final = "THIRD_PARTY_NO_AGREEMENT"
PROMOTIONAL_CONTENT_NOT_ALLOWED: Final = "PROMOTIONAL_CONTENT_NOT_ALLOWED"
CONFIRMATION_NOT_ALLOWED: Final = "CONFIRMATION_NOT_ALLOWED"
OPTED_OUT: Final = "OPTED_OUT"
NO_CONSENT: Final = "NO_CONSENT"
CONSENT_BASIS_NOT_ACCEPTED: Final = "CONSENT_BASIS_NOT_ACCEPTED"
CONSENT_EXPIRED: Final = "CONSENT_EXPIRED"
CONSENT_UNCONFIRMED: Final = "CONSENT_UNCONFIRMED"
MISSING_OPT_OUT: Final = "MISSING_OPT_OUT"
QUIET_HOURS: Final = "QUIET_HOURS"
# Gate codes, beyond the contract: the intent was valid but the gate could not check it, so it is
# denied (fail closed). STATE_NOT_CURRENT: consent and opt-out partitions did not catch up within
# the read-your-opt-outs wait. GATE_ERROR: an unexpected error while deciding.
STATE_NOT_CURRENT: Final = "STATE_NOT_CURRENT"
GATE_ERROR: Final = "GATE_ERROR"

ALLOW_CODES: Final[tuple[str, ...]] = (
    CONSENT_VALID,
    TRANSACTIONAL,
    LEGAL_REQUIRED,
    OPTOUT_CONFIRMATION,
)

DENY_PRECEDENCE: Final[tuple[str, ...]] = (
    INVALID_INTENT,
    STATE_NOT_CURRENT,
    GATE_ERROR,
    THIRD_PARTY_NO_AGREEMENT,
    PROMOTIONAL_CONTENT_NOT_ALLOWED,
    CONFIRMATION_NOT_ALLOWED,
    OPTED_OUT,
    NO_CONSENT,
    CONSENT_BASIS_NOT_ACCEPTED,
    CONSENT_EXPIRED,
    CONSENT_UNCONFIRMED,
    MISSING_OPT_OUT,
    QUIET_HOURS,
)

DENY_RANK: Final = MappingProxyType({code: rank for rank, code in enumerate(DENY_PRECEDENCE)})
ALLOW_SET: Final = frozenset(ALLOW_CODES)

# How bad a denied intent would have been had it gone out: what the compliance team triages by.
# critical: a person who said no, or data handed to a party with no written promise (policy 4, 6);
# high: marketing with no lawful basis; medium: consent or notice defects; low: nothing unlawful
# was attempted (a bad record, a surplus confirmation).
SEVERITY: Final = MappingProxyType(
    {
        OPTED_OUT: "critical",
        THIRD_PARTY_NO_AGREEMENT: "critical",
        NO_CONSENT: "high",
        PROMOTIONAL_CONTENT_NOT_ALLOWED: "high",
        CONSENT_BASIS_NOT_ACCEPTED: "high",
        CONSENT_EXPIRED: "high",
        CONSENT_UNCONFIRMED: "medium",
        MISSING_OPT_OUT: "medium",
        QUIET_HOURS: "medium",
        CONFIRMATION_NOT_ALLOWED: "low",
        INVALID_INTENT: "low",
        STATE_NOT_CURRENT: "low",
        GATE_ERROR: "low",
    }
)


def by_precedence(
    codes: set[str] | frozenset[str] | list[str] | tuple[str, ...],
) -> tuple[str, ...]:
    """The distinct deny codes among `codes`, most decisive first."""
    return tuple(sorted(set(codes), key=DENY_RANK.__getitem__))
