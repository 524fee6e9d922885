"""`consentgate replay FILE.jsonl`: decide a scenario file's intents in memory, one verdict a line.

Verdicts go to standard output as JSON, errors to standard error as `line N: reason`; a bad line
never stops the replay. A complaint's overdue acknowledgement is a JSON line on standard output
too, told apart by `"type": "violation"` (verdict lines have no `type`; schemas/README.md). Exit 0
when the file was read, 2 when it could not be opened. The policy settings come from the
environment, like every other command's.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

import orjson

from streams.policy.jurisdictions import TableError, table_for
from streams.policy.records import Verdict, Violation
from streams.policy.replay import replay_records
from streams.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay", help="decide the intents of a JSON-lines scenario file without Kafka"
    )
    parser.add_argument("file", help="JSON-lines file of records with `type`; - reads stdin")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        config = settings.policy
        table_for(config)  # a broken jurisdiction table stops here, not at the first intent
        pseudonyms = _pseudonyms(settings)
    except (SettingsError, TableError, ValueError) as exc:
        print(f"consentgate: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        source: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"consentgate replay: cannot open {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    out, err = sys.stdout.buffer, sys.stderr
    with source:
        for item in replay_records(source, config, pseudonyms):
            if isinstance(item, Verdict):
                out.write(orjson.dumps(item.to_dict()) + b"\n")
            elif isinstance(item, Violation):  # COMPLAINT_ACK_OVERDUE, SENT_*, LATE_OPTOUT
                out.write(orjson.dumps({"type": "violation", **item.to_dict()}) + b"\n")
            else:
                out.flush()
                print(item, file=err, flush=True)
    out.flush()
    return 0


def _pseudonyms(settings: Settings) -> Any:
    """The installation's pseudonym keys, so replayed verdicts carry `recipient_ref` as the
    gate's do; none (no field) when no key is configured or made yet: a replay invents none."""
    from streams.runtime.ledger import pseudonyms_for

    return pseudonyms_for(settings, create=False)
