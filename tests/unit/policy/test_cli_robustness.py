"""Issue 11 loose ends: output piped to `head` ends quietly, and every instant of years 1-9999
with any offset gives a verdict or one per-line error, never a traceback, in process and through
the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.cli import main
from streams.policy.records import Verdict
from streams.policy.replay import LineError, replay_records
from tests.builders import PARTNER, consent, intent, optout, partner

ROOT = Path(__file__).parents[3]
COMMAND = [sys.executable, "-m", "streams"]


def _run(args: list[str], stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *args], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=120, check=False)  # fmt: skip


# ---------------------------------------------------------------------------- | head


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Far more verdicts than a pipe holds (64 KiB), so the writer outlives its reader."""
    path = tmp_path_factory.mktemp("big") / "big.events.jsonl"
    lines = [json.dumps(consent(id="c1"))]
    lines += [json.dumps(intent(id=f"m{n}")) for n in range(1500)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_piped_into_head_ends_quietly(big_file: Path) -> None:
    writer = subprocess.Popen([*COMMAND, "replay", str(big_file)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.run(["head", "-1"], stdin=writer.stdout, capture_output=True, timeout=120,
                          check=True)  # fmt: skip
    writer.stdout.close()
    assert writer.wait(timeout=120) == 0
    assert writer.stderr.read() == b""
    writer.stderr.close()
    assert json.loads(head.stdout)["id"] == "m0"


@pytest.mark.parametrize(
    "args",
    [["replay", "BIG"], ["explain", "BIG", "m7"], ["explain", "BIG", "m7", "--json"], ["rules"]],
    ids=" ".join,
)
def test_a_reader_gone_before_the_first_line_ends_quietly(args: list[str], big_file: Path) -> None:
    """The pipe's read end is closed before the command starts, so its first write fails
    whatever the size of its output."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _run([str(big_file) if a == "BIG" else a for a in args], stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""


# ---------------------------------------------------------------------------- instants

EDGES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "0001-01-01T00:00:00-14:00",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T13:59:59.999999+14:00",
    "9999-12-31T23:59:59-14:00",  # after 9999 in UTC
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T10:00:00-23:59",
    "9999-12-31T23:59:60Z",  # leap seconds
    "2016-12-31T23:59:60Z",
    "1998-12-31T23:59:60+00:00",
    "2016-12-31T23:59:60.5-05:00",
    "2024-02-29T12:00:00+05:45",
    "2023-02-29T12:00:00Z",  # no such day
    "0000-12-31T23:59:59Z",
    "10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "2026-06-01T19:00:00+24:00",
    "2026-06-01T19:00:00",  # naive
]


def _history(at: str) -> list[dict[str, object]]:
    """Every record type dated `at`, and intents at `at` and after it on that history."""
    return [
        partner(at=at, expires=at),
        consent(at=at),
        consent(at=at, channel="email"),
        consent(at=at, channel="email", action="confirm", id=f"confirm-{at}"),
        optout(at=at),
        intent(at=at),
        intent(at=at, sender=PARTNER, channel="email"),
        intent(at="2026-06-01T19:00:00Z", id=f"later-{at}"),
        intent(
            at=at,
            category="optout_confirmation",
            has_opt_out=False,
            body="You are out.",
            id=f"confirmation-{at}",
        ),
    ]


def _assert_one_outcome_a_line(records: list[dict[str, object]], results: Sequence[object]) -> None:
    errors = Counter(r.line for r in results if isinstance(r, LineError))
    assert all(count == 1 for count in errors.values()), errors
    decided = [r for r in results if isinstance(r, Verdict)]
    intents = [r["id"] for r in records if r["type"] == "intent"]
    assert [v.id for v in decided] == intents
    for verdict in decided:
        assert verdict.decision in ("allow", "deny")
        json.dumps(verdict.to_dict())


@pytest.mark.parametrize("at", EDGES)
def test_an_edge_instant_gives_a_verdict_or_a_line_error(at: str) -> None:
    records = _history(at)
    results = list(replay_records(json.dumps(r) for r in records))
    _assert_one_outcome_a_line(records, results)


OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)
MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


def _text(moment: datetime, offset: int, leap: bool, fraction: bool) -> str:
    sign, minutes = ("-" if offset < 0 else "+"), abs(offset)
    second = 60 if leap else moment.second
    micro = f".{moment.microsecond:06d}" if fraction else ""
    zone = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{second:02d}{micro}{zone}")  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(MOMENTS, OFFSETS, st.booleans(), st.booleans())
def test_any_instant_of_years_1_to_9999_with_any_offset(
    moment: datetime, offset: int, leap: bool, fraction: bool
) -> None:
    records = _history(_text(moment, offset, leap, fraction))
    results = list(replay_records(json.dumps(r) for r in records))
    _assert_one_outcome_a_line(records, results)


@pytest.fixture(scope="module")
def edge_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    records = [record for at in EDGES for record in _history(at)]
    path = tmp_path_factory.mktemp("edges") / "edges.events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path, records


def _check_command_output(records: list[dict[str, object]], out: str, err: str) -> None:
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v["id"] for v in verdicts] == [r["id"] for r in records if r["type"] == "intent"]
    numbers = [line.split(":")[0] for line in err.splitlines()]
    assert all(n.startswith("line ") for n in numbers), err
    assert len(numbers) == len(set(numbers)), "one error a line"


def test_the_edge_instants_through_the_command(
    edge_file: tuple[Path, list[dict[str, object]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, records = edge_file
    assert main(["replay", str(path)]) == 0
    out, err = capsys.readouterr()
    _check_command_output(records, out, err)
    assert "outside years 1-9999" in err and "leap second" in err


def test_the_edge_instants_through_the_installed_command(
    edge_file: tuple[Path, list[dict[str, object]]],
) -> None:
    path, records = edge_file
    done = _run(["replay", str(path)])
    assert done.returncode == 0
    assert b"Traceback" not in done.stderr
    _check_command_output(records, done.stdout.decode(), done.stderr.decode())


def test_explain_reads_an_intent_at_an_edge(
    edge_file: tuple[Path, list[dict[str, object]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, records = edge_file
    for record in records:
        if record["type"] == "intent" and str(record["at"]).startswith(("0001", "9999")):
            assert main(["explain", str(path), str(record["id"]), "--json"]) == 0
            assert json.loads(capsys.readouterr().out)["verdict"]["id"] == record["id"]


def test_an_unexpected_error_on_one_record_does_not_stop_the_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug deciding one intent: that intent is denied GATE_ERROR (fail closed, as the Kafka
    gate does), the line reported, and the next intent still decided."""
    import streams.policy.replay as replay_module

    real_decide = replay_module.decide

    def failing(intent_: object, *args: object, **kwargs: object) -> object:
        if getattr(intent_, "id", None) == "m-bug":
            raise RuntimeError("a bug")
        return real_decide(intent_, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(replay_module, "decide", failing)
    lines = [json.dumps(r) for r in (consent(), intent(id="m-bug"), intent(id="m-next"))]
    results = list(replay_records(lines))
    assert [str(r) for r in results if isinstance(r, LineError)] == [
        "line 2: intent m-bug: internal error (RuntimeError): the record could not be evaluated"
    ]
    assert [(v.id, v.reason) for v in results if isinstance(v, Verdict)] == [
        ("m-bug", "GATE_ERROR"),
        ("m-next", "CONSENT_VALID"),
    ]
