"""SendGrid exports: the Marketing Campaigns contacts CSV, and the suppression lists.

SendGrid keeps no consent column: a contact is on a list, and unsubscribes live in suppression
lists. Which export a file is, is read from its columns:

| columns                        | export                   | becomes                        |
|--------------------------------|--------------------------|--------------------------------|
| `email`, `created_at`          | contacts                 | a grant at `created_at`        |
| `email`, `created`             | global unsubscribes      | opt-out from the party         |
| `email`, `created`, `group_id` | group (ASM) unsubscribes | opt-out from the party         |
| `email`, `created`, `ip`       | spam reports             | opt-out from every party       |
| `email`, `created`, `status`   | bounces, blocks          | nothing (not consent): skipped |
| `email`, `created`, `reason`   | invalid emails           | nothing (not consent): skipped |

`created` is Unix seconds in the API's exports; ISO text is read too. A contact gets a grant and no
confirm: nothing in the export shows double opt-in, so promotional email stays denied
`CONSENT_UNCONFIRMED` until a confirm arrives from elsewhere.
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
    consent_record,
    optional_time,
    optout_record,
)

CONTACT_EVIDENCE = ("created_at", "updated_at", "contact_id", "list_ids", "source")


def mapper(ctx: ImportContext, header: Header) -> Mapper:
    header.require("SendGrid", "email")
    if header.has("created_at") and not header.has("created"):
        return _contacts(ctx)
    header.require("SendGrid", "created")
    if header.has("ip"):
        return _suppression(ctx, method="complaint", every_party=True)
    if header.has("status", "reason"):
        return _not_consent
    return _suppression(ctx, method="other", every_party=False)


def _contacts(ctx: ImportContext) -> Mapper:
    def map_row(row: Row) -> list[Record]:
        address = address_of(row, "email", ctx.jurisdiction, "email")
        at = optional_time(row, "created_at")
        if at is None:
            raise Rejected("contact without created_at: nothing to date the consent by")
        record = consent_record(
            ctx,
            row,
            channel="email",
            address=address,
            action="grant",
            at=at,
            columns=CONTACT_EVIDENCE,
            import_note="single_opt_in",
        )
        return [record]

    return map_row


def _suppression(ctx: ImportContext, *, method: str, every_party: bool) -> Mapper:
    def map_row(row: Row) -> list[Record]:
        address = address_of(row, "email", ctx.jurisdiction, "email")
        at = optional_time(row, "created")
        if at is None:
            raise Rejected("suppression without its created time")
        return [
            optout_record(
                ctx,
                channel="email",
                address=address,
                at=at,
                method=method,
                every_party=every_party,
            )
        ]

    return map_row


def _not_consent(row: Row) -> list[Record]:
    """Bounces, blocks and invalid addresses say nothing about consent: counted, not recorded."""
    return []
