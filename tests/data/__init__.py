"""Where the tests find the contract's scenario files: the copy in `tests/data/contract/`.

The one path every test uses, so that a plain clone tests itself; `test_contract_drift.py` keeps
the copy equal to the contract where the contract is at hand. Also the contract's scoring rule
(what `conform.py` applies), so tests score verdicts the way the contract's tool does.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

CONTRACT_DIR = Path(__file__).resolve().parent / "contract"
SCENARIO_SETS = ("scenarios", "jurisdiction-scenarios", "as-of-scenarios")


def scenario_dir(scenario_set: str) -> Path:
    """The folder of one scenario set (one of `SCENARIO_SETS`)."""
    if scenario_set not in SCENARIO_SETS:
        raise ValueError(f"no scenario set {scenario_set!r}; there are {SCENARIO_SETS}")
    return CONTRACT_DIR / scenario_set


def scenario_files(scenario_set: str) -> list[Path]:
    """The set's `*.events.jsonl` files, in their numbered order."""
    return sorted(scenario_dir(scenario_set).glob("*.events.jsonl"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file, blank lines skipped."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_verdicts(events: Path) -> list[dict[str, Any]]:
    """What the contract expects for each intent of an events file, in file order."""
    return read_jsonl(events.with_name(events.name.replace(".events.", ".expected.")))


def misses(verdicts: Iterable[Mapping[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    """The expectations `verdicts` do not meet, by conform.py's rule: the decision must match; an
    allow must name the expected code as `reason`; a deny must name it as `reason` or list it
    in `reasons`. An intent without a verdict is a miss."""
    by_id = {verdict.get("id"): verdict for verdict in verdicts}
    missed = []
    for want in expected:
        got = by_id.get(want["id"])
        ok = got is not None and got.get("decision") == want["decision"]
        if ok and got is not None:
            named = got.get("reason") == want["reason"]
            listed = want["reason"] in (got.get("reasons") or [])
            ok = named or (listed and want["decision"] == "deny")
        if not ok:
            missed.append(f"{want['id']}: expected {want['decision']} {want['reason']}, got {got}")
    return missed


def replay_cli(events: Path) -> list[dict[str, Any]]:
    """The verdicts `consentgate replay <events>` prints (its `main`, run in this process)."""
    from streams.cli import main

    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()  # it writes bytes
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["replay", str(events)])
    assert code == 0, err.getvalue()[-2000:]
    out.flush()
    buffer = out.buffer
    assert isinstance(buffer, io.BytesIO)
    return [json.loads(line) for line in buffer.getvalue().splitlines()]
