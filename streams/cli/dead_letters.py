"""`consentgate dead-letters replay`: re-publish dead letters to the topics they came from.

What may be replayed and what is refused is decided in `streams/runtime/redrive.py`; this module
only reads the options and prints the summary.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from streams.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dead-letters", help="replay dead letters to their source")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    replay = actions.add_parser(
        "replay",
        help="re-publish dead letters (original key and bytes) to their source topic",
        description="Re-publish this gate's dead letters to the input topic each came from, with "
        "the original key and bytes, so the gate decodes them afresh. Truncated values and "
        "topics that are not the gate's inputs are refused and counted. Without --error-class, "
        "every class but 'repaired' (already applied) is replayed.",
    )
    replay.add_argument(
        "--error-class",
        action="append",
        default=None,
        metavar="CLASS",
        help="only dead letters of this error class (repeatable), e.g. registry_unavailable",
    )
    replay.add_argument("--since", help="only dead letters written at or after this ISO instant")
    replay.add_argument("--until", help="only dead letters written before this ISO instant")
    replay.add_argument(
        "--dry-run", action="store_true", help="count what would be replayed; publish nothing"
    )
    replay.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    replay.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from streams.runtime.redrive import Selection, parse_instant, replay
    from streams.serdes import codec_for

    try:
        settings = Settings.from_env()
        selection = Selection(
            error_classes=frozenset(args.error_class) if args.error_class else None,
            since=parse_instant(args.since) if args.since else None,
            until=parse_instant(args.until) if args.until else None,
        )
    except (SettingsError, ValueError) as exc:
        print(f"consentgate dead-letters: {exc}", file=sys.stderr)
        return 2
    summary = replay(settings, selection, dry_run=args.dry_run, codec=codec_for(settings))
    if args.json:
        print(orjson.dumps(summary.as_dict()).decode())
    else:
        verb = "would replay" if summary.dry_run else "replayed"
        print(
            f"read {summary.read} dead letters, selected {summary.selected}, "
            f"{verb} {summary.published}, failed {summary.failed}"
        )
        for topic, count in sorted(summary.by_topic.items()):
            print(f"  {verb} to {topic}: {count}")
        for error_class, count in sorted(summary.by_class.items()):
            print(f"  selected {error_class}: {count}")
        for reason, count in sorted(summary.skipped.items()):
            print(f"  skipped ({reason}): {count}")
    return 1 if summary.failed else 0
