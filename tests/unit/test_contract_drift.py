"""The copy of the contract in tests/data/contract against the original, `../shared/contract`.

The tests read only the copy, so that a plain clone tests itself. This file is the one place that
looks at the original: where it exists the copy must equal it byte for byte, and the contract's
own scoring tool must pass our replay on every copied scenario. A developer without the contract
skips these; CI (`CI=true`) has it, so there a missing contract fails instead of passing silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT
from tests.data import CONTRACT_DIR, SCENARIO_SETS, scenario_dir

SHARED_CONTRACT = ROOT.parent / "shared" / "contract"
CONFORM_TOOL = ROOT.parent / "shared" / "tools" / "conform.py"
REFERENCE_TEXTS = ("README.md", "jurisdictions.md")


def _require(path: Path) -> None:
    """Skip without `path`, except in CI, where it must be there."""
    if path.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {path} is missing: the drift check must run in CI", pytrace=False)
    pytest.skip(f"{path} is not here (a plain clone has no ../shared)")


def _relative_files(folder: Path) -> set[str]:
    names = {*REFERENCE_TEXTS}
    for scenario_set in SCENARIO_SETS:
        names |= {f"{scenario_set}/{p.name}" for p in (folder / scenario_set).glob("*.jsonl")}
    return {name for name in names if (folder / name).is_file()}


def _same_bytes(name: str) -> bool:
    return (SHARED_CONTRACT / name).read_bytes() == (CONTRACT_DIR / name).read_bytes()


def test_the_copy_equals_the_contract() -> None:
    _require(SHARED_CONTRACT)
    theirs, ours = _relative_files(SHARED_CONTRACT), _relative_files(CONTRACT_DIR)
    assert theirs, f"no scenario files under {SHARED_CONTRACT}"
    assert sorted(theirs - ours) == [], "contract files missing from tests/data/contract"
    assert sorted(ours - theirs) == [], "files in tests/data/contract the contract does not have"
    changed = [name for name in sorted(theirs) if not _same_bytes(name)]
    assert changed == [], "copied again? these differ from the contract (tests/data/README.md)"


def test_the_contract_has_no_scenario_set_the_copy_lacks() -> None:
    _require(SHARED_CONTRACT)
    theirs = {p.name for p in SHARED_CONTRACT.iterdir() if p.is_dir() and any(p.glob("*.jsonl"))}
    assert theirs - set(SCENARIO_SETS) == set(), "copy the new set(s), add them to SCENARIO_SETS"


@pytest.mark.parametrize("scenario_set", SCENARIO_SETS)
def test_the_contracts_scoring_tool_passes_replay_on_the_copy(scenario_set: str) -> None:
    _require(CONFORM_TOOL)
    command = [sys.executable, "-m", "streams", "replay"]
    result = subprocess.run(
        [sys.executable, str(CONFORM_TOOL), str(scenario_dir(scenario_set)), "--", *command],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    last = result.stdout.splitlines()[-1] if result.stdout else ""
    passed, _, total = last.removeprefix("conformance: ").partition("/")
    assert result.returncode == 0 and total.isdigit() and passed == total != "0", result.stdout
