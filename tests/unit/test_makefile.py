"""The Makefile documents itself: `make help` prints each target's `## description`, so a target
without one would be invisible, and a target missing from `.PHONY` would silently stop running
once a file of its name appears (`make docs` next to the docs/ folder, for one).

Only named targets count; `$(INSTALLED)` is a file target (the venv's stamp), not a command.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
TARGET_LINE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_-]*)\s*:(?![=:])(?P<rest>.*)$")


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined, as make reads them."""
    return text.replace("\\\n", " ").splitlines()


def targets(text: str) -> dict[str, str]:
    """Target name -> its `##` description ("" when it has none)."""
    found: dict[str, str] = {}
    for line in logical_lines(text):
        match = TARGET_LINE.match(line)
        if match is None or match["name"] == ".PHONY":
            continue
        _, _, description = match["rest"].partition("##")
        found[match["name"]] = description.strip()
    return found


def phony(text: str) -> set[str]:
    names: set[str] = set()
    for line in logical_lines(text):
        if line.startswith(".PHONY:"):
            names.update(line.removeprefix(".PHONY:").split())
    return names


def test_the_parser_reads_targets_descriptions_and_continued_phony_lines() -> None:
    sample = (
        "VAR := x\nA ?= y\n.PHONY: one \\\n\ttwo\n$(STAMP): dep\n\ttouch $@\n"
        "one: dep ## does one\n\techo 1\ntwo:\n\techo 2\n"
    )
    assert targets(sample) == {"one": "does one", "two": ""}
    assert phony(sample) == {"one", "two"}


def test_every_target_has_a_description() -> None:
    found = targets(MAKEFILE.read_text())
    assert {"help", "check", "format", "test", "demo"} <= found.keys()
    missing = sorted(name for name, description in found.items() if not description)
    assert missing == [], f"targets without a `## description`: {missing}"


def test_phony_lists_exactly_the_targets() -> None:
    text = MAKEFILE.read_text()
    declared, defined = phony(text), set(targets(text))
    assert sorted(defined - declared) == [], "targets missing from .PHONY"
    assert sorted(declared - defined) == [], ".PHONY names targets that do not exist"


def test_make_help_prints_every_target_with_its_description() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKEFILE), "help"],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = {
        line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1]
        for line in done.stdout.splitlines()
        if line.startswith("  ")
    }
    assert printed == targets(MAKEFILE.read_text())


def test_bench_micro_collects_the_micro_benchmarks() -> None:
    # pytest collects test_*.py by default: `make bench-micro` once ran no benchmark at all.
    recipe = re.search(r"^bench-micro:.*\n\t(?P<cmd>.+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe is not None
    command = recipe["cmd"].replace("$(BIN)/", ".venv/bin/").replace("$(PYTEST_ARGS)", "")
    command = command.replace("--benchmark-enable", "--collect-only")
    done = subprocess.run(
        command, shell=True, cwd=MAKEFILE.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    collected = re.search(r"(\d+) tests? collected", done.stdout)
    assert collected is not None and int(collected[1]) >= 10, done.stdout[-2000:]
