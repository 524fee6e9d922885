"""Mailchimp audience exports: a ZIP of `subscribed_*`, `unsubscribed_*` and `cleaned_*` CSVs.

Every file has `Email Address` and the signup columns (`OPTIN_TIME`, `OPTIN_IP`, `CONFIRM_TIME`,
`CONFIRM_IP`, `LAST_CHANGED`, ...); the unsubscribed file adds `UNSUB_TIME` and the unsubscribe
campaign and reason, the cleaned file `CLEAN_TIME`. Which file a row is in is read from these
columns, so a renamed file is still read right. Times carry no zone: Mailchimp writes them in UTC.

- subscribed: a grant at `OPTIN_TIME`, and a confirm at `CONFIRM_TIME` when both are set (double
  opt-in); see `common.grant_and_confirm` for the other cases.
- unsubscribed (`UNSUB_TIME`) and cleaned (`CLEAN_TIME`): an opt-out from the party, and no grant,
  even where the row still shows its old signup: what the tool says now is "do not send".
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

EMAIL = "Email Address"
EVIDENCE = (
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LAST_CHANGED",
    "MEMBER_RATING",
    "LEID",
    "EUID",
    "CC",
    "REGION",
)


def mapper(ctx: ImportContext, header: Header) -> Mapper:
    header.require("Mailchimp", EMAIL)

    def map_row(row: Row) -> list[Record]:
        address = address_of(row, "email", ctx.jurisdiction, EMAIL)
        unsubscribed = optional_time(row, "UNSUB_TIME")
        cleaned = optional_time(row, "CLEAN_TIME")
        if unsubscribed is not None or cleaned is not None:
            at = unsubscribed or cleaned
            assert at is not None
            return [optout_record(ctx, channel="email", address=address, at=at)]
        if header.has("UNSUB_TIME", "CLEAN_TIME"):
            # a row of the unsubscribed or cleaned file without its time: still an opt-out
            at = optional_time(row, "LAST_CHANGED")
            if at is None:
                raise Rejected(
                    "unsubscribed or cleaned, but no UNSUB_TIME, CLEAN_TIME or LAST_CHANGED"
                )
            return [optout_record(ctx, channel="email", address=address, at=at)]
        return grant_and_confirm(
            ctx,
            row,
            channel="email",
            address=address,
            optin=optional_time(row, "OPTIN_TIME"),
            confirm=optional_time(row, "CONFIRM_TIME"),
            columns=EVIDENCE,
        )

    return map_row
