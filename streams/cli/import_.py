"""`consentgate import FILE --format F --party P --jurisdiction J`: another tool's export to Kafka.

The module is `import_` because `import` is a keyword; the command is `import`. The work is in
`connectors.importers`; this module parses arguments, opens the file and Kafka, prints the summary.
Exit status: 0 when every record was acknowledged (rejected rows are reported, not fatal), 1 when
Kafka did not acknowledge some, 2 when the file or the arguments cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from streams.settings import Settings

FORMAT_NAMES = ("mailchimp", "sendgrid", "klaviyo", "csv")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import consent and opt-outs from a Mailchimp, SendGrid, Klaviyo or CSV export",
        description="Streams the export (a CSV, or a ZIP of CSVs) in bounded memory. Ids come "
        "from each record's content, so importing a file again changes nothing.",
    )
    parser.add_argument("file", type=Path, help="the export: a CSV file or a ZIP of CSV files")
    parser.add_argument("--format", required=True, choices=FORMAT_NAMES, dest="format_name")
    parser.add_argument("--party", required=True, help="the party the consent was given to")
    parser.add_argument(
        "--jurisdiction", required=True, help="ISO 3166-1 alpha-2 country of the recipients"
    )
    parser.add_argument(
        "--rejects", type=Path, help="where rejected rows go (default: FILE.rejected.jsonl)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read, map and validate only; publish nothing"
    )
    parser.add_argument(
        "--ack-timeout",
        type=float,
        default=300.0,
        help="seconds to wait at the end for Kafka's acknowledgements (default 300)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connectors.importers.common import HeaderError, ImportContext, Source
    from connectors.importers.pipeline import (
        QUEUE_LIMITS,
        DryRunSink,
        ProducerSink,
        Progress,
        RejectsFile,
        Sink,
        dry_run_codec,
        run_import,
    )
    from streams.policy.config import canonical_party

    def fail(message: str) -> int:
        print(f"consentgate import: {message}", file=sys.stderr)
        return 2

    jurisdiction = args.jurisdiction.strip().upper()
    if len(jurisdiction) != 2 or not jurisdiction.isalpha():
        return fail(f"--jurisdiction {args.jurisdiction!r} is not a two-letter country code")
    try:
        party = canonical_party(args.party)
    except ValueError as exc:
        return fail(f"--party: {exc}")
    if not args.file.is_file():
        return fail(f"{args.file} is not a file")
    try:
        source = Source(args.file)
    except (OSError, ValueError) as exc:
        return fail(f"cannot read {args.file}: {exc}")
    ctx = ImportContext(args.format_name, party, jurisdiction, args.file.name)
    rejects_path = args.rejects or args.file.with_name(args.file.name + ".rejected.jsonl")

    sink: Sink
    producer = None
    if args.dry_run:
        codec = dry_run_codec()
        sink = DryRunSink()
    else:
        from connectors.producer import GateProducer
        from streams.runtime.admin import ensure_topics
        from streams.serdes import codec_for

        settings = Settings.from_env()
        ensure_topics(settings)
        codec = codec_for(settings, register=True)
        producer = GateProducer(
            settings.kafka_bootstrap_servers,
            codec,
            topic_prefix=settings.topic_prefix,
            **QUEUE_LIMITS,
        )
        sink = ProducerSink(producer, args.ack_timeout)
    try:
        stats = run_import(
            source, ctx, codec, sink, RejectsFile(rejects_path), Progress(source.total_bytes)
        )
    except HeaderError as exc:
        return fail(str(exc))
    print(stats.table(args.dry_run))
    if stats.rejected:
        print(
            f"{stats.rejected} rejected rows, with line numbers and reasons: {rejects_path}",
            file=sys.stderr,
        )
    if stats.failed:
        first = getattr(sink, "first_error", "")
        print(
            f"consentgate import: Kafka did not acknowledge {stats.failed} records: {first}",
            file=sys.stderr,
        )
        return 1
    return 0
