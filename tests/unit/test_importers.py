"""`consentgate import`: each tool's export read into contract records, offline.

Fixture exports are in tests/data/imports/; their rows are described where they are used.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.importers.common import HeaderError, ImportContext, Rejected, Source, parse_time
from connectors.importers.pipeline import (
    DryRunSink,
    Progress,
    RejectsFile,
    dry_run_codec,
    mapped_rows,
    run_import,
)
from streams.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"


def read(
    name: str, fmt: str, party: str = "company"
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The records of a fixture export, and its rejected lines with their reasons."""
    ctx = ImportContext(fmt, party, "US", name)
    records: list[dict[str, Any]] = []
    rejected: dict[int, str] = {}
    for row, outcome in mapped_rows(Source(DATA / name), ctx):
        if isinstance(outcome, str):
            rejected[row.line] = outcome
        else:
            records.extend(outcome)
    return records, rejected


def summary(records: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None]]:
    return [(r["address"], r.get("action") or r["type"], r["at"], r["party"]) for r in records]


def test_mailchimp_subscribed_rows_become_grants_and_confirms() -> None:
    records, rejected = read("mailchimp_subscribed.csv", "mailchimp")
    assert summary(records) == [
        # opt-in and confirmation: double opt-in; the address is normalized
        ("ann.double@example.com", "grant", "2023-02-01T09:15:00Z", "company"),
        ("ann.double@example.com", "confirm", "2023-02-01T09:17:30Z", "company"),
        # opt-in only: a grant, no confirm
        ("bob.single@example.com", "grant", "2023-03-05T10:00:00Z", "company"),
        # confirmation time only (added by an admin): a grant at that time, no confirm
        ("carol.admin@example.com", "grant", "2023-04-10T12:00:00Z", "company"),
    ]
    grant = records[0]
    assert grant["evidence"]["source"] == "import"
    assert grant["evidence"]["mailchimp.OPTIN_IP"] == "198.51.100.7"
    assert grant["evidence"]["import_file"].endswith(":2")
    assert "First Name" not in str(grant["evidence"])  # names are not evidence of consent
    assert records[3]["evidence"]["import_note"] == "no_optin_time"
    assert all(r["jurisdiction"] == "US" and r["purpose"] == "marketing" for r in records)
    assert set(rejected) == {5, 6, 7}
    assert "does not parse" in rejected[5]
    assert "no opt-in or confirmation time" in rejected[6]
    assert "OPTIN_TIME" in rejected[7]


def test_mailchimp_unsubscribed_and_cleaned_rows_become_optouts_only() -> None:
    records, rejected = read("mailchimp_unsubscribed.csv", "mailchimp")
    assert rejected == {}
    # an old signup in the row gives no grant; a row without UNSUB_TIME falls back to LAST_CHANGED
    assert summary(records) == [
        ("gina.gone@example.com", "optout", "2024-01-20T08:00:00Z", "company"),
        ("hal.gone@example.com", "optout", "2024-02-02T11:00:00Z", "company"),
    ]
    cleaned, _ = read("mailchimp_cleaned.csv", "mailchimp")
    assert summary(cleaned) == [
        ("ivy.bounced@example.com", "optout", "2024-03-03T03:03:03Z", "company")
    ]
    assert cleaned[0]["method"] == "other"


def test_sendgrid_exports_are_told_apart_by_their_columns() -> None:
    contacts, rejected = read("sendgrid_contacts.csv", "sendgrid")
    assert summary(contacts) == [("jack@example.com", "grant", "2024-04-01T10:00:00Z", "company")]
    assert list(rejected) == [3]  # a contact without created_at
    unsubscribed, _ = read("sendgrid_unsubscribes.csv", "sendgrid")
    assert summary(unsubscribed) == [
        ("lee@example.com", "optout", "2024-05-01T12:00:00Z", "company")
    ]
    spam, _ = read("sendgrid_spam_reports.csv", "sendgrid")
    assert summary(spam) == [("mia@example.com", "optout", "2024-05-02T12:00:00Z", None)]
    assert spam[0]["method"] == "complaint"
    bounces, rejected = read("sendgrid_bounces.csv", "sendgrid")
    assert bounces == [] and rejected == {}


def test_klaviyo_consent_and_suppressions() -> None:
    records, rejected = read("klaviyo_profiles.csv", "klaviyo")
    assert summary(records) == [
        # double opt-in: a confirm at the consent time; the +02:00 offset is converted to UTC
        ("olga@example.com", "grant", "2024-05-01T10:00:00Z", "company"),
        ("olga@example.com", "confirm", "2024-05-01T10:00:00Z", "company"),
        ("pat@example.com", "grant", "2024-05-02T12:00:00Z", "company"),
        ("quinn@example.com", "optout", "2024-05-03T12:00:00Z", "company"),
        # a spam complaint wins over SUBSCRIBED, and stops every party
        ("rita@example.com", "optout", "2024-05-04T12:00:00Z", None),
    ]
    assert records[0]["evidence"]["klaviyo.IP Address"] == "198.51.100.20"
    assert list(rejected) == [7] and "MAYBE" in rejected[7]


def test_generic_csv_columns() -> None:
    records, rejected = read("generic.csv", "csv")
    assert summary(records) == [
        ("+14155550199", "grant", "2024-06-01T10:00:00Z", "company"),
        ("uma@example.com", "grant", "2024-06-02T10:00:00Z", "company"),
        ("uma@example.com", "confirm", "2024-06-02T10:05:00Z", "company"),
        ("+14155550198", "optout", "2024-06-03T10:00:00Z", "company"),
        ("vic@example.com", "optout", "2024-06-03T10:00:00Z", None),
    ]
    assert records[0]["channel"] == "sms" and records[0]["evidence"]["csv.source"] == "kiosk"
    assert set(rejected) == {6, 7}
    assert "pigeon" in rejected[6]


def test_ids_come_from_content_and_are_stable() -> None:
    first, _ = read("mailchimp_subscribed.csv", "mailchimp")
    again, _ = read("mailchimp_subscribed.csv", "mailchimp")
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert len({r["id"] for r in first}) == len(first)
    other_party, _ = read("mailchimp_subscribed.csv", "mailchimp", party="acme-partner")
    assert not {r["id"] for r in first} & {r["id"] for r in other_party}


def test_the_same_consent_in_another_case_or_file_order_keeps_its_id(tmp_path: Path) -> None:
    header = '"Email Address",OPTIN_TIME\n'
    (tmp_path / "a.csv").write_text(
        header + "x@example.com,2024-01-01 00:00:00\nY@Example.com,2024-01-02 00:00:00\n"
    )
    (tmp_path / "b.csv").write_text(
        header + "y@example.com,2024-01-02 00:00:00\nX@EXAMPLE.COM,2024-01-01 00:00:00\n"
    )
    ctx = ImportContext("mailchimp", "company", "US", "x")
    ids = [
        sorted(r["id"] for _, out in mapped_rows(Source(tmp_path / n), ctx) for r in out)
        for n in ("a.csv", "b.csv")
    ]
    assert ids[0] == ids[1]


def test_times() -> None:
    assert parse_time("2015-03-16 14:40:47", "T").isoformat() == "2015-03-16T14:40:47+00:00"
    assert parse_time("1714564800", "T").isoformat() == "2024-05-01T12:00:00+00:00"
    assert parse_time("1714564800500", "T").isoformat() == "2024-05-01T12:00:00.500000+00:00"
    assert parse_time("2024-05-01T14:00:00+02:00", "T").hour == 12
    for bad in ("soon", "1850-01-01", "2024-13-01 00:00:00", "9" * 30):
        with pytest.raises(Rejected):
            parse_time(bad, "T")


def test_a_file_that_is_not_the_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HeaderError, match="Email Address"):
        read("sendgrid_contacts.csv", "mailchimp")


def test_malformed_rows_are_rejected_with_their_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b'"Email Address",OPTIN_TIME\n'
        b"a@example.com,2024-01-01 00:00:00\n"
        b"b@example.com,2024-01-01 00:00:00,extra\n"  # line 3: more fields than the header
        b'"multi\nline@example.com",2024-01-01 00:00:00\n'  # lines 4-5: a quoted newline
        b"\xff\xfe@example.com,2024-01-01 00:00:00\n"  # line 6: not UTF-8
        b"\n"
        b"c@example.com,2024-01-01 00:00:00\n"  # line 8
    )
    ctx = ImportContext("mailchimp", "company", "US", "export.csv")
    outcomes = [(row.line, out) for row, out in mapped_rows(Source(path), ctx)]
    assert [line for line, _ in outcomes] == [2, 3, 4, 6, 8]
    assert [isinstance(out, str) for _, out in outcomes] == [False, True, True, True, False]
    assert "3 fields" in outcomes[1][1]
    assert "UTF-8" in outcomes[3][1]


def test_a_zip_of_csvs_is_read_member_by_member(tmp_path: Path) -> None:
    archive = tmp_path / "audience.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(DATA / "mailchimp_subscribed.csv", "subscribed_members_export.csv")
        z.write(DATA / "mailchimp_unsubscribed.csv", "unsubscribed_members_export.csv")
        z.writestr("readme.txt", "not a table")
    ctx = ImportContext("mailchimp", "company", "US", "audience.zip")
    outcomes = list(mapped_rows(Source(archive), ctx))
    assert [(row.source, row.line) for row, _ in outcomes][-2:] == [
        ("unsubscribed_members_export.csv", 2),
        ("unsubscribed_members_export.csv", 3),
    ]
    assert len(outcomes) == 8


def test_rows_are_streamed_not_loaded(tmp_path: Path) -> None:
    """The first row's records exist before more than a read buffer of a 6 MB file was read,
    and after 1000 rows the reader is still near the top: nothing loads the file."""
    path = tmp_path / "big.csv"
    with open(path, "w") as out:
        out.write('"Email Address",OPTIN_TIME,OPTIN_IP\n')
        for n in range(100_000):
            out.write(f"user{n}@example.com,2024-01-01 00:00:00,198.51.100.{n % 250}\n")
    size = path.stat().st_size
    source = Source(path)
    rows = mapped_rows(source, ImportContext("mailchimp", "company", "US", "big.csv"))
    next(rows)
    assert source.bytes_read <= 128 * 1024 < size
    for _ in range(1000):
        next(rows)
    assert source.bytes_read <= 256 * 1024


def test_dry_run_counts_encodes_and_writes_rejects(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    source = Source(DATA / "mailchimp_subscribed.csv")
    ctx = ImportContext("mailchimp", "company", "US", "mailchimp_subscribed.csv")
    sink = DryRunSink()
    stats = run_import(source, ctx, dry_run_codec(), sink, RejectsFile(rejects))
    assert (stats.read, stats.grants, stats.confirms, stats.optouts, stats.rejected) == (
        6,
        3,
        1,
        0,
        3,
    )
    assert stats.published == sink.sent == 4
    lines = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [entry["line"] for entry in lines] == [5, 6, 7]
    assert lines[0]["fields"]["Email Address"] == "not-an-address"


def test_command_line_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "profiles.csv"
    export.write_bytes((DATA / "klaviyo_profiles.csv").read_bytes())
    code = main(["import", str(export), "--format", "klaviyo", "--party", "Company",
                 "--jurisdiction", "us", "--dry-run"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0
    assert "opt-outs" in out.out and "rows/s" in out.out
    rejects = tmp_path / "profiles.csv.rejected.jsonl"
    assert [orjson.loads(x)["line"] for x in rejects.read_bytes().splitlines()] == [7]


def test_command_line_refuses_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = DATA / "generic.csv"
    assert main(["import", str(export), "--format", "csv", "--party", "company",
                 "--jurisdiction", "USA", "--dry-run"]) == 2  # fmt: skip
    assert main(["import", str(tmp_path / "missing.csv"), "--format", "csv", "--party", "company",
                 "--jurisdiction", "US", "--dry-run"]) == 2  # fmt: skip
    assert main(["import", str(DATA / "generic.csv"), "--format", "mailchimp", "--party",
                 "company", "--jurisdiction", "US", "--dry-run", "--rejects",
                 str(tmp_path / "r.jsonl")]) == 2  # fmt: skip
    assert "not a Mailchimp export" in capsys.readouterr().err


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = Terminal()
    progress = Progress(1000, bar, every_s=1e-9)
    progress.tick(10, lambda: 500)
    assert "\r[" in bar.getvalue() and "50.0%" in bar.getvalue()
    plain = io.StringIO()
    Progress(1000, plain, every_s=1e-9).tick(10, lambda: 250)
    assert plain.getvalue().startswith("read 10 rows (25%)") and "\r" not in plain.getvalue()
