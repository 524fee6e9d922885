"""`consentgate explain FILE.jsonl ID`: why an intent of a scenario file gets its verdict.

Replays the whole file in memory exactly as `replay` does ("before" is line order; the same line
reader, table and id memo), and for each intent with that id prints every rule evaluated for it:
whether it passed, allowed or denied, the codes it produced, why (the grant, opt-out, agreement,
window and local time it relied on, by record id) and the policy clause or legal source it
enforces. An invalid intent is explained by what was wrong with it.

An id that occurs more than once (issue 11 §7) is explained once per occurrence, in line order,
each labelled "occurrence K of N (line L)": a repeat with the same content is a redelivery and gets
the first verdict again (nothing decided afresh, no state changed); a repeat with different content
is denied INVALID_INTENT, since one id names one intent and the first keeps its verdict. `--json`
prints one JSON object per occurrence (JSON lines), with `occurrence` and `occurrences`.

Record ids of grants, confirms and opt-outs come from re-reading the file's records up to the
intent (the gate's state keeps their times, not their ids). Exit 0 when the id was explained,
2 when the file cannot be read, the id is not an intent of the file, or a setting is bad.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from streams.policy.errors import InvalidRecord
from streams.policy.explain import Explanation, explain
from streams.policy.jurisdictions import TableError, table_for
from streams.policy.records import ConsentRecord, OptOutRecord, SendIntent, Verdict, parse_record
from streams.policy.replay import REUSED_ID, LineError, Replay, UnreadableLine, read_line
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


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One line with the id, and the verdict replay gives it. `explanation` for the first one
    that validated; `invalid` what was wrong with an intent that did not; `repeat_of` the line of
    the first occurrence, for a later one, and `redelivery` whether its content was the same."""

    line: int
    verdict: Verdict
    explanation: Explanation | None = None
    invalid: str | None = None
    repeat_of: int | None = None
    redelivery: bool = False


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
    found = occurrences(lines, args.id, Replay(config))
    if not found:
        print(f"consentgate explain: no intent with id {args.id!r} in {args.file}", file=sys.stderr)
        return 2
    for number, occurrence in enumerate(found, start=1):
        if args.json:
            data = {"file": args.file, "line": occurrence.line, "occurrence": number,
                    "occurrences": len(found), **as_dict(occurrence)}  # fmt: skip
            sys.stdout.buffer.write(orjson.dumps(data) + b"\n")
            continue
        if len(found) > 1:
            gap = "\n" if number > 1 else ""
            print(f"{gap}occurrence {number} of {len(found)} (line {occurrence.line})")
        print(render_occurrence(occurrence, args.file))
    return 0


def occurrences(lines: list[bytes], intent_id: str, replay: Replay) -> list[Occurrence]:
    """Every intent of `lines` with `intent_id`, explained on the state replay had before it."""
    ids: dict[Key, str] = {}
    found: list[Occurrence] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = read_line(text)
        except UnreadableLine:
            continue  # replay reports it and reads on; it is no record, so no occurrence
        first = found[0].line if found else None
        explanation, invalid = (
            _before(obj, intent_id, replay, ids) if first is None else (None, None)
        )
        results = replay.feed(obj, number)
        _remember(obj, ids)
        verdicts = [item for item in results if isinstance(item, Verdict)]
        if not verdicts or verdicts[0].id != intent_id:
            continue
        errors = [item for item in results if isinstance(item, LineError)]
        if first is None:
            if explanation is None and invalid is None and errors:  # the replay's own error
                invalid = errors[0].message
            found.append(Occurrence(number, verdicts[0], explanation, invalid))
        else:
            redelivery = not any(error.message == REUSED_ID for error in errors)
            found.append(Occurrence(number, verdicts[0], repeat_of=first, redelivery=redelivery))
    return found


def _before(
    obj: Any, intent_id: str, replay: Replay, ids: Mapping[Key, str]
) -> tuple[Explanation | None, str | None]:
    """The explanation of `obj` if it is a valid intent with the id (on the state before it), or
    what is wrong with it if it is an invalid one."""
    try:
        intent = parse_record(obj, table=replay.table)
    except InvalidRecord as exc:
        return None, exc.message if exc.record_id == intent_id else None
    if not isinstance(intent, SendIntent) or intent.id != intent_id:
        return None, None
    explanation = explain(
        intent, replay.states.get(intent.address), replay.agreements, replay.config,
        provenance=FileProvenance(ids, intent.address), now=intent.at,
    )  # fmt: skip
    return explanation, None


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


def _repeat_because(occurrence: Occurrence) -> str:
    first = occurrence.repeat_of
    if occurrence.redelivery:
        return (
            f"same id and same content as occurrence 1 (line {first}): a redelivery, so it gets "
            "that verdict again; nothing is decided afresh and no state changes"
        )
    return (
        f"same id as occurrence 1 (line {first}) but different content: one id names one intent, "
        f"so this one is not checkable and never allowed (INVALID_INTENT); occurrence 1 keeps "
        "its verdict"
    )


def as_dict(occurrence: Occurrence) -> dict[str, Any]:
    """The JSON of one occurrence: the verdict, the findings behind it, why a repeat gets it."""
    if occurrence.explanation is not None:
        return occurrence.explanation.to_dict()
    data: dict[str, Any] = {"verdict": occurrence.verdict.to_dict(), "findings": []}
    if occurrence.repeat_of is not None:
        data.update(repeat_of_line=occurrence.repeat_of, redelivery=occurrence.redelivery,
                    because=_repeat_because(occurrence))  # fmt: skip
    elif occurrence.invalid is not None:
        data["because"] = f"not checkable, so never allowed: {occurrence.invalid}"
    return data


def render_occurrence(occurrence: Occurrence, file: str) -> str:
    if occurrence.explanation is not None:
        return render(occurrence.explanation, file, occurrence.line)
    verdict = occurrence.verdict
    head = (
        f"intent {verdict.id} ({file}, line {occurrence.line}): {verdict.decision} {verdict.reason}"
    )
    if occurrence.repeat_of is not None:
        return "\n".join([head, *_wrap("why", _repeat_because(occurrence))])
    return f"{head}\n  not checkable, so never allowed: {occurrence.invalid}"


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
