"""Every case of cases.py replayed in memory: the expected verdict or line error, never a
traceback; an INVALID_INTENT verdict's detail is a short, escaped excerpt (issue 11 §5); a lenient
opt-out or revocation reports what it repaired (issue 11 §3)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.policy.errors import InvalidRecord
from streams.policy.records import OptOutRecord, PartnerRecord, Verdict, parse_record
from streams.policy.replay import LineError, replay_records
from tests.unit.badinput.cases import ALL, Case

DETAIL_LIMIT = 400  # a message plus a few 40-character excerpts


def _line(item: Any) -> str:
    return item if isinstance(item, str) else orjson.dumps(item).decode()


def _repairs(case: Case) -> list[str]:
    found: list[str] = []
    for item in case.lines:
        if not isinstance(item, dict) or item.get("type") in ("consent", "intent"):
            continue
        try:
            record = parse_record(item)
        except InvalidRecord:
            continue
        if isinstance(record, OptOutRecord | PartnerRecord):
            found.extend(record.repairs)
    return found


def test_there_are_enough_cases_and_each_names_its_clause() -> None:
    assert len(ALL) >= 150
    assert len({case.clause for case in ALL}) == len(ALL), "clauses name one case each"
    assert all(case.clause.startswith(("issue11-§", "contract ")) for case in ALL)


@pytest.mark.parametrize("case", ALL, ids=lambda case: case.clause)
def test_bad_input(case: Case) -> None:
    results = list(replay_records([_line(item) for item in case.lines]))
    errors = [r for r in results if isinstance(r, LineError)]
    verdicts = [r for r in results if isinstance(r, Verdict)]
    if case.decision is not None:
        assert verdicts, (case.clause, [str(e) for e in errors])
        last = verdicts[-1]
        assert (last.decision, last.reason) == (case.decision, case.reason), (
            case.clause, last.reasons, last.detail, [str(e) for e in errors])  # fmt: skip
    else:
        assert not verdicts, case.clause
    if case.error is not None:
        relevant = errors if case.decision is not None else [
            e for e in errors if e.line == len(case.lines)]  # fmt: skip
        assert any(case.error in e.message for e in relevant), (
            case.clause, [str(e) for e in errors])  # fmt: skip
    for verdict in verdicts:
        if verdict.detail is not None:
            assert len(verdict.detail) <= DETAIL_LIMIT, verdict.detail[:200]
            assert verdict.detail.isascii() and verdict.detail.isprintable(), verdict.detail
    for error in errors:
        assert len(error.message) <= DETAIL_LIMIT and error.message.isprintable(), error.message
    if case.repair is not None:
        repairs = _repairs(case)
        assert any(case.repair in r for r in repairs), (case.clause, repairs)


def test_an_optout_line_with_a_leading_bom_is_applied() -> None:
    from tests.unit.badinput.cases import grant, intent, optout

    lines = [_line(grant()), "\ufeff" + _line(optout()), _line(intent())]
    verdict = [r for r in replay_records(lines) if isinstance(r, Verdict)][-1]
    assert verdict.reason == "OPTED_OUT"
