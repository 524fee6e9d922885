"""The generic CSV: for any other tool, or a hand-made list. Columns (any case, any order):

| column         | required | meaning                                                            |
|----------------|----------|--------------------------------------------------------------------|
| `address`      | yes      | e-mail address or phone number (without `+`: in `--jurisdiction`)  |
| `status`       | yes      | `subscribed`, `unsubscribed`, `cleaned` or `complaint`             |
| `channel`      | no       | `email` (default), `sms`, `mms`, `voice`, `whatsapp`, ...          |
| `optin_time`   | subscribed | when consent was given                                           |
| `optin_ip`     | no       | where from (evidence)                                              |
| `confirm_time` | no       | when double opt-in was confirmed: adds a confirm                   |
| `confirm_ip`   | no       | evidence                                                           |
| `optout_time`  | unsubscribed, cleaned, complaint | when                                       |
| `source`, `form`, `notice_hash`, `user_agent` | no | copied into the evidence              |

Times: ISO-8601 (UTC when no offset is written) or Unix seconds. `complaint` is an opt-out from
every party (method `complaint`); `unsubscribed` and `cleaned` from the party.
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
from streams.policy.addresses import CHANNELS

EVIDENCE = (
    "optin_time",
    "optin_ip",
    "confirm_time",
    "confirm_ip",
    "source",
    "form",
    "notice_hash",
    "user_agent",
)
OPTOUT_STATUSES = frozenset({"unsubscribed", "cleaned", "complaint"})


def mapper(ctx: ImportContext, header: Header) -> Mapper:
    header.require("generic CSV", "address", "status")

    def map_row(row: Row) -> list[Record]:
        channel = (row.get("channel") or "email").lower()
        if channel not in CHANNELS:
            raise Rejected(f"unknown channel {channel[:20]!r}")
        address = address_of(row, channel, ctx.jurisdiction, "address")
        status = row.get("status").lower()
        if status in OPTOUT_STATUSES:
            at = optional_time(row, "optout_time")
            if at is None:
                raise Rejected(f"{status}, but no optout_time")
            complaint = status == "complaint"
            return [
                optout_record(
                    ctx,
                    channel=channel,
                    address=address,
                    at=at,
                    method="complaint" if complaint else "other",
                    every_party=complaint,
                )
            ]
        if status == "subscribed":
            return grant_and_confirm(
                ctx,
                row,
                channel=channel,
                address=address,
                optin=optional_time(row, "optin_time"),
                confirm=optional_time(row, "confirm_time"),
                columns=EVIDENCE,
            )
        raise Rejected(
            f"unknown status {status[:20]!r} (subscribed, unsubscribed, cleaned, complaint)"
        )

    return map_row
