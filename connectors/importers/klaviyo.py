"""Klaviyo profile exports (CSV).

Columns read: `Email`; `Email Marketing Consent` (or `Consent`) with `SUBSCRIBED`, `UNSUBSCRIBED`
or `NEVER_SUBSCRIBED`; `Email Marketing Consent Timestamp` (or `Consent Timestamp`); `Email
Suppressions` (or `Suppressions`) naming `UNSUBSCRIBE`, `USER_SUPPRESSED`, `SPAM_COMPLAINT`,
`HARD_BOUNCE` or `INVALID_EMAIL`; and, where the export has it, `Double Opt-In` (the API's
`double_optin`). SMS consent columns are not read: their CSV names are unconfirmed.

- a spam complaint: opt-out from every party (method `complaint`); an unsubscribe or a manual
  suppression, or consent `UNSUBSCRIBED`: opt-out from the party. A suppression wins over a
  `SUBSCRIBED` consent in the same row: the tool will not send to it either.
- `SUBSCRIBED`: a grant at the consent time, and a confirm at the same time when the export says
  double opt-in.
- `NEVER_SUBSCRIBED`, or only a bounce: no consent event (skipped).
"""

from __future__ import annotations

from connectors.importers.common import (
    Header,
    ImportContext,
    Mapper,
    Record,
    Rejected,
    Row,
    address_of,
    grant_and_confirm,
    optional_time,
    optout_record,
)

CONSENT = ("Email Marketing Consent", "Consent")
TIMESTAMP = ("Email Marketing Consent Timestamp", "Consent Timestamp")
SUPPRESSIONS = ("Email Suppressions", "Suppressions")
DOUBLE_OPT_IN = ("Email Marketing Double Opt-In", "Double Opt-In")
EVIDENCE = (
    *CONSENT,
    *TIMESTAMP,
    *SUPPRESSIONS,
    *DOUBLE_OPT_IN,
    "Source",
    "IP Address",
    "Klaviyo ID",
    "Profile Created On",
    "Date Added",
)
TRUE = frozenset({"true", "yes", "1", "y"})


def mapper(ctx: ImportContext, header: Header) -> Mapper:
    header.require("Klaviyo", "Email")
    if not header.has(*CONSENT):
        header.require("Klaviyo", CONSENT[0])

    def map_row(row: Row) -> list[Record]:
        address = address_of(row, "email", ctx.jurisdiction, "Email")
        consent = row.get(*CONSENT).upper()
        suppressions = row.get(*SUPPRESSIONS).upper()
        at = optional_time(row, *TIMESTAMP)
        complaint = "SPAM_COMPLAINT" in suppressions
        stopped = complaint or "UNSUBSCRIBE" in suppressions or "USER_SUPPRESSED" in suppressions
        if stopped or consent == "UNSUBSCRIBED":
            if at is None:
                raise Rejected("unsubscribed or suppressed, but no consent timestamp")
            method = "complaint" if complaint else "other"
            return [
                optout_record(
                    ctx,
                    channel="email",
                    address=address,
                    at=at,
                    method=method,
                    every_party=complaint,
                )
            ]
        if consent == "SUBSCRIBED":
            if at is None:
                raise Rejected("subscribed, but no consent timestamp to date the consent by")
            double = row.get(*DOUBLE_OPT_IN).lower() in TRUE
            return grant_and_confirm(
                ctx,
                row,
                channel="email",
                address=address,
                optin=at,
                confirm=at if double else None,
                columns=EVIDENCE,
            )
        if consent in ("", "NEVER_SUBSCRIBED"):
            return []
        raise Rejected(f"unknown consent value {consent[:30]!r}")

    return map_row
