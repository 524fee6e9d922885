"""`consentgate replay FILE.jsonl`: decide a scenario file's intents in memory, one verdict a line.

Verdicts go to standard output as JSON, errors to standard error as `line N: reason`; a bad line
never stops the replay. Exit 0 when the file was read, 2 when it could not be opened. The policy
settings come from the environment, like every other command's.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

import orjson

from streams.policy.jurisdictions import TableError, table_for
from streams.policy.records import Verdict
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
        config = Settings.from_env().policy
        table_for(config)  # a broken jurisdiction table stops here, not at the first intent
    except (SettingsError, TableError) as exc:
        print(f"consentgate: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        source: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"consentgate replay: cannot open {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    out, err = sys.stdout.buffer, sys.stderr
    with source:
        for item in replay_records(source, config):
            if isinstance(item, Verdict):
                out.write(orjson.dumps(item.to_dict()) + b"\n")
            else:
                out.flush()
                print(item, file=err, flush=True)
    out.flush()
    return 0
