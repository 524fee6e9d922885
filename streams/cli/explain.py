"""`consentgate explain FILE.jsonl ID`: why one intent of a scenario file gets its verdict.

Replays the file in memory up to the intent with that id (the first one; "before" is line order, as
in `replay`), then prints every rule evaluated for it: whether it passed, allowed or denied, the
codes it produced, why (the grant, opt-out, agreement, window and local time it relied on, by
record id) and the policy clause or legal source it enforces. `--json` prints the same as one JSON
object.

Record ids of grants, confirms and opt-outs come from re-reading the file's records up to the
intent (the gate's state keeps their times, not their ids). Exit 0 when the intent was explained
(an invalid intent is explained by what was wrong with it), 2 when the file cannot be read, the id
is not an intent of the file, or a setting is bad.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

import orjson

from streams.policy.errors import InvalidRecord
from streams.policy.explain import Explanation, explain
from streams.policy.jurisdictions import TableError, table_for
from streams.policy.records import ConsentRecord, OptOutRecord, SendIntent, parse_record
from streams.policy.replay import Replay
from streams.settings import Settings, SettingsError

Key = tuple[str, str, str, str | None, int]  # address, kind, channel, party, at (ms)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain", help="explain the verdict of one intent of a JSON-lines scenario file"
    )
    parser.add_argument("file", help="JSON-lines file of records with `type`")
    parser.add_argument("id", help="id of the intent to explain")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


class FileProvenance:
    """Record ids by what the state remembers of them, for one recipient address."""

    def __init__(self, ids: Mapping[Key, str], address: str) -> None:
        self.ids = ids
        self.address = address

    def __call__(self, kind: str, channel: str, party: str | None, at_ms: int) -> str | None:
        return self.ids.get((self.address, kind, channel, party, at_ms))


def run(args: argparse.Namespace) -> int:
    try:
        config = Settings.from_env().policy
        table_for(config)
    except (SettingsError, TableError) as exc:
        print(f"consentgate: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        with open(args.file, "rb") as source:
            lines = source.read().splitlines()
    except OSError as exc:
        print(f"consentgate explain: cannot open {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    replay = Replay(config)
    ids: dict[Key, str] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        target = isinstance(obj, dict) and obj.get("type") == "intent" and obj.get("id") == args.id
        if target:
            return _explain_line(args, obj, number, replay, ids)
        _remember(obj, ids)
        replay.feed(obj, number)
    print(f"consentgate explain: no intent with id {args.id!r} in {args.file}", file=sys.stderr)
    return 2


def _remember(obj: Any, ids: dict[Key, str]) -> None:
    try:
        record = parse_record(obj)
    except InvalidRecord:
        return
    if isinstance(record, ConsentRecord):
        key: Key = (record.address, record.action, record.channel, record.party, record.at_ms)
    elif isinstance(record, OptOutRecord):
        key = (record.address, "optout", record.channel, record.party, record.at_ms)
    else:
        return
    ids.setdefault(key, record.id)


def _explain_line(
    args: argparse.Namespace, obj: dict[str, Any], line: int, replay: Replay, ids: dict[Key, str]
) -> int:
    try:
        intent = parse_record(obj)
    except InvalidRecord as exc:
        return _invalid(args, line, exc.message)
    assert isinstance(intent, SendIntent)
    explanation = explain(
        intent, replay.states.get(intent.address), replay.agreements, replay.config,
        provenance=FileProvenance(ids, intent.address), now=intent.at,
    )  # fmt: skip
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps({"file": args.file, "line": line, **explanation.to_dict()}) + b"\n"
        )
    else:
        print(render(explanation, args.file, line))
    return 0


def _invalid(args: argparse.Namespace, line: int, message: str) -> int:
    if args.json:
        verdict = {"id": args.id, "decision": "deny", "reason": "INVALID_INTENT",
                   "reasons": ["INVALID_INTENT"], "detail": message}  # fmt: skip
        result = {"file": args.file, "line": line, "verdict": verdict, "findings": []}
        print(orjson.dumps(result).decode())
    else:
        print(f"intent {args.id} ({args.file}, line {line}): deny INVALID_INTENT\n"
              f"  not checkable, so never allowed: {message}")  # fmt: skip
    return 0


def render(explanation: Explanation, file: str, line: int) -> str:
    verdict = explanation.verdict
    head = f"intent {verdict.id} ({file}, line {line}): {verdict.decision} {verdict.reason}"
    out = [head]
    if len(verdict.reasons) > 1:
        out.append(f"  reasons: {', '.join(verdict.reasons)}")
    if verdict.detail:
        out.append(f"  detail: {verdict.detail}")
    out.append(f"  policy version: {verdict.policy_version}")
    out.append("")
    for finding in explanation.findings:
        codes = f" {', '.join(finding.codes)}" if finding.codes else ""
        label = "PARAMETER" if finding.kind == "parameter" else finding.outcome.upper()
        out.append(f"[{label}{codes}] {finding.rule}")
        out.extend(_wrap("why", finding.because))
        if finding.relied_on:
            out.append(f"    relied on: {', '.join(finding.relied_on)}")
        out.extend(_wrap("rule", finding.statement))
    return "\n".join(out)


def _wrap(label: str, text: str) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=f"    {label}: ",
                         subsequent_indent=" " * (6 + len(label)))  # fmt: skip
