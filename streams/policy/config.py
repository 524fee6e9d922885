"""Policy parameters. Pure data: `streams.settings` reads the environment and fills them in.

Also the canonical form of party ids (`canonical_party`), here rather than in addresses.py so that
the configured first party is canonical too without importing phonenumbers into settings."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

MAX_PARTY_CHARS: Final = 128
# The contract's channels (addresses.CHANNELS is the same set; a test holds them equal).
CHANNEL_NAMES: Final = ("email", "sms", "mms", "voice", "whatsapp", "fax", "social_dm", "post")
_HIDDEN: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def canonical_party(raw: str) -> str:
    """One spelling per party id (sender, consent party, opt-out party, agreement party, first
    party): NFKC, case-folded (`str.casefold`), NFKC again (case folding can denormalize), trimmed,
    inner whitespace collapsed to one space. So `Company`, ` company `, `COMPANY` and `company`
    in full-width letters (U+FF43...) are one party. Refused (ValueError): not a string, empty,
    longer than MAX_PARTY_CHARS, or holding control, format (zero-width, bidi), private-use or
    unassigned characters, which would make two ids look alike."""
    if not isinstance(raw, str):
        raise ValueError(f"a party id must be a string, got {type(raw).__name__}")
    if len(raw) > MAX_PARTY_CHARS:
        raise ValueError(f"party id is {len(raw)} characters, over {MAX_PARTY_CHARS}")
    if not (raw.isascii() and raw.isprintable()):
        for char in raw:
            if unicodedata.category(char) in _HIDDEN:
                raise ValueError(
                    f"party id {raw[:40]!a} contains U+{ord(char):04X} "
                    f"{unicodedata.name(char, 'unnamed character')}"
                )
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    else:
        folded = raw.lower()
    party = " ".join(folded.split())
    if not party:
        raise ValueError("party id is empty")
    return party


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
            "bounds": (1, 30 * 24 * 3600),
        },
    )
    double_opt_in_channels: frozenset[str] = field(
        default=frozenset({"email"}),
        metadata={
            "env": "CONSENTGATE_DOUBLE_OPT_IN_CHANNELS",
            "doc": "Comma-separated channels whose express consent needs a confirm after a grant.",
            "choices": CHANNEL_NAMES,
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

    def __post_init__(self) -> None:
        # The first party compares equal to canonical senders only in canonical form.
        try:
            first = canonical_party(self.first_party)
        except ValueError as exc:
            raise ValueError(f"CONSENTGATE_FIRST_PARTY: {exc}") from None
        if first != self.first_party:
            object.__setattr__(self, "first_party", first)
