"""The package's layers, checked from the code's own imports.

- `streams.policy` is pure: it imports no other part of `streams` (test_policy_purity.py checks
  it imports neither faust nor Kafka clients).
- The runtime, the codec, the shared modules and the connectors never import development tooling
  (`streams.devtools`) or the command line (`streams.cli`): a production worker ships without them
  mattering, and a change to the benchmark cannot change what the gate does.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SIDE = [
    *sorted((ROOT / "streams" / "runtime").rglob("*.py")),
    *sorted((ROOT / "streams" / "serdes").rglob("*.py")),
    *sorted((ROOT / "streams" / "policy").rglob("*.py")),
    *sorted((ROOT / "connectors").rglob("*.py")),
    ROOT / "streams" / "settings.py",
    ROOT / "streams" / "topics.py",
    ROOT / "streams" / "metrics.py",
]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", RUNTIME_SIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_side_never_imports_tooling_or_the_command_line(path: Path) -> None:
    bad = sorted(
        name
        for name in imported_modules(path)
        if name.startswith(("streams.devtools", "streams.cli"))
    )
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", sorted((ROOT / "streams" / "policy").rglob("*.py")))
def test_policy_imports_no_other_part_of_streams(path: Path) -> None:
    bad = sorted(
        name
        for name in imported_modules(path)
        if name.startswith("streams") and not name.startswith("streams.policy")
    )
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_loading_the_worker_loads_no_tooling() -> None:
    code = (
        "import sys, streams.runtime.app, streams.runtime.worker, connectors.producer\n"
        "print(sorted(m for m in sys.modules if m.startswith(('streams.devtools', 'streams.cli'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_every_command_module_is_listed_by_help() -> None:
    from streams.cli import COMMAND_MODULES, build_parser

    modules = {p.stem for p in (ROOT / "streams" / "cli").glob("*.py") if p.stem != "__init__"}
    assert {name.rsplit(".", 1)[1] for name in COMMAND_MODULES} == modules
    help_text = build_parser().format_help()
    for name in modules:
        # `import_.py` is the `import` command, `dead_letters.py` the `dead-letters` one
        assert name.rstrip("_").replace("_", "-") in help_text


def test_python_dash_m_streams_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "replay" in done.stdout and "worker" in done.stdout
