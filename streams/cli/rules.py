"""`consentgate rules [JURISDICTION]`: the rules the gate enforces, for review before sign-off.

Prints every rule (its id, what it produces, its statement citing the policy clause and legal
source), then, per jurisdiction of the table (or the one asked for), the parameters the rules read:
quiet-hours windows per channel and weekday, accepted consent bases with their lapse and scope,
opt-out confirmation windows, channels one opt-out covers together, each with its source and the
research's confidence. A country's view includes its subdivisions (`US` shows US-FL and the other
states); a subdivision's view shows what replaces its country's. The table is the one the
settings name (CONSENTGATE_JURISDICTION_TABLE), with the files and digests it was read from.
`--json` prints the same as one JSON object. Exit 2 for a jurisdiction the table does not have.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

import orjson

from streams.policy.config import PolicyConfig
from streams.policy.jurisdictions import (
    WEEKDAY_NAMES,
    Jurisdiction,
    JurisdictionTable,
    TableError,
    table_for,
)
from streams.policy.rules import PARAMETER_RULES, RULES
from streams.policy.rules.protocol import ParameterRule, Rule
from streams.settings import Settings, SettingsError

UNLISTED = (
    "A country the table does not list never means 'no rules': an intent declaring it is "
    "INVALID_INTENT. Add the country to the table (an override file may; an entry with no rows, "
    "like OM, gets the contract's part 1 rules only)."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rules", help="print the rules the gate enforces and each jurisdiction's parameters"
    )
    parser.add_argument(
        "jurisdiction", nargs="?", help="a country (US) or subdivision (US-FL); default: all"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = Settings.from_env().policy
        table = table_for(config)
    except (SettingsError, TableError) as exc:
        print(f"consentgate: bad setting: {exc}", file=sys.stderr)
        return 2
    wanted = None if args.jurisdiction is None else args.jurisdiction.strip().upper()
    if wanted is not None and wanted not in table.entries:
        print(
            f"consentgate rules: unknown jurisdiction {args.jurisdiction!r}: the table has "
            f"{', '.join(table.codes())}. {UNLISTED}",
            file=sys.stderr,
        )
        return 2
    codes = _selected(table, wanted)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(as_json(table, config, codes)) + b"\n")
    else:
        print(render(table, config, codes))
    return 0


def _selected(table: JurisdictionTable, wanted: str | None) -> list[str]:
    if wanted is None:
        return list(table.codes())
    if len(wanted) == 2:
        return [wanted, *table.subdivisions.get(wanted, ())]
    return [wanted]


# ---------------------------------------------------------------------------- JSON


def as_json(table: JurisdictionTable, config: PolicyConfig, codes: list[str]) -> dict[str, Any]:
    return {
        "policy_version": config.policy_version,
        "table": {"version": table.version, "origins": list(table.origins)},
        "rules": [_rule_json(rule, "rule") for rule in RULES]
        + [_rule_json(rule, "parameter") for rule in PARAMETER_RULES],
        "jurisdictions": {code: _jurisdiction_json(table.entries[code]) for code in codes},
        "unlisted": UNLISTED,
        "defaults": {
            "optout_confirmation_window_s": config.optout_confirmation_window.total_seconds(),
            "double_opt_in_channels": sorted(config.double_opt_in_channels),
        },
    }


def _rule_json(rule: Rule | ParameterRule, kind: str) -> dict[str, Any]:
    codes = getattr(rule, "CODES", None) or (rule.RULE_ID, *getattr(rule, "ALLOWS", ()))
    return {
        "id": rule.RULE_ID,
        "kind": kind,
        "codes": list(codes),
        "applies_to": sorted(rule.APPLIES_TO),
        "statement": rule.STATEMENT,
    }


def _jurisdiction_json(entry: Jurisdiction) -> dict[str, Any]:
    return {
        "name": entry.name,
        "notes": entry.notes,
        "replaces_country_windows": entry.is_subdivision,
        "quiet_hours": [
            {
                "channels": list(q.channels),
                "windows": {
                    WEEKDAY_NAMES[d].lower(): [str(i) for i in q.days[d]] for d in range(7)
                },
                "source": q.source,
                "confidence": q.confidence,
            }
            for q in entry.quiet_hours
        ],
        "consent_bases": [
            {
                "basis": b.basis,
                "lapse": None if b.lapse is None else str(b.lapse),
                "parties": b.parties,
                "channels": None if b.channels is None else sorted(b.channels),
                "source": b.source,
                "confidence": b.confidence,
            }
            for b in entry.consent_bases
        ],
        "optout_confirmation": [
            {
                "channels": list(c.channels),
                "within": str(c.within),
                "source": c.source,
                "confidence": c.confidence,
            }
            for c in entry.optout_confirmation
        ],
        "covered_together": [
            {"channels": list(c.channels), "source": c.source, "confidence": c.confidence}
            for c in entry.covered_together
        ],
    }


# ---------------------------------------------------------------------------- text


def render(table: JurisdictionTable, config: PolicyConfig, codes: list[str]) -> str:
    out = [
        f"consentgate rules (policy {config.policy_version}; jurisdiction table "
        f"{table.version or 'unversioned'})",
        *(f"  read from {origin}" for origin in table.origins),
        "",
        "Rules, in precedence order (every intent of a category runs every rule for it):",
    ]
    for rule in RULES:
        allows = f"; allows {', '.join(rule.ALLOWS)}" if rule.ALLOWS else ""
        out.append(f"  {rule.RULE_ID}  [{', '.join(sorted(rule.APPLIES_TO))}{allows}]")
        out.extend(_wrap(rule.STATEMENT, 6))
    out.append("Jurisdiction parameter rules (they change what the rules above see):")
    for parameter in PARAMETER_RULES:
        out.append(f"  {parameter.RULE_ID}  [leads to {', '.join(parameter.CODES)}]")
        out.extend(_wrap(parameter.STATEMENT, 6))
    out.append("")
    for code in codes:
        out.extend(_render_entry(table.entries[code], config))
        out.append("")
    out.extend(_wrap(UNLISTED, 0))
    return "\n".join(out).rstrip()


def _render_entry(entry: Jurisdiction, config: PolicyConfig) -> list[str]:
    out = [f"{entry.code}  {entry.name}"]
    if entry.is_subdivision:
        out.append(f"  (its windows replace {entry.country}'s for the channels they list)")
    if entry.notes:
        out.extend(_wrap(entry.notes, 2))
    out.append("  Quiet hours (recipient's local time; start included, end excluded):")
    if not entry.quiet_hours:
        out.append("    none")
    for q in entry.quiet_hours:
        summary = q.summary()
        out.append(f"    {', '.join(q.channels)}: {summary}")
        if not summary.startswith("every day"):
            for day in range(7):
                out.append(f"      {WEEKDAY_NAMES[day]:<9} {q.day_text(day)}")
        out.extend(_sourced(q.source, q.confidence))
    if entry.is_subdivision:
        return out
    out.append("  Consent bases accepted besides express:")
    if not entry.consent_bases:
        out.append("    none (express consent only)")
    for b in entry.consent_bases:
        lapse = "no lapse" if b.lapse is None else f"lapses {b.lapse.words} after the grant"
        out.append(f"    {b.basis}: {lapse}; {b.scope()}")
        out.extend(_sourced(b.source, b.confidence))
    out.append("  Opt-out confirmation window:")
    default = _duration(config.optout_confirmation_window.total_seconds())
    for c in entry.optout_confirmation:
        out.append(f"    {', '.join(c.channels)}: within {c.within.words} of the opt-out")
        out.extend(_sourced(c.source, c.confidence))
    others = "other channels" if entry.optout_confirmation else "every channel"
    out.append(f"    {others}: within {default} (configured default, contract part 1)")
    out.append("  One opt-out covers together:")
    if not entry.covered_together:
        out.append("    none (an opt-out covers its own channel)")
    for group in entry.covered_together:
        out.append(f"    {', '.join(group.channels)}")
        out.extend(_sourced(group.source, group.confidence))
    return out


def _sourced(source: str, confidence: str | None) -> list[str]:
    lines = _wrap(f"source: {source}", 8)
    if confidence:
        lines += _wrap(f"confidence: {confidence}", 8)
    return lines


def _duration(seconds: float) -> str:
    whole = int(seconds)
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if whole % size == 0 and whole >= size:
            return f"{whole // size} {unit}"
    return f"{whole} seconds"


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=" " * indent,
                         subsequent_indent=" " * (indent + 2))  # fmt: skip
