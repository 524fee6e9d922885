"""The benchmark stays a package of small parts (issue 10 §6): no function or method over 60
lines, no environment reads of its own (the stack and settings modules decide), one free_port."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = sorted((ROOT / "streams" / "devtools" / "bench").glob("*.py"))
COMMAND = ROOT / "streams" / "cli" / "bench.py"
MAX_LINES = 60


def functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_the_benchmark_is_split_into_modules() -> None:
    assert len(BENCH) >= 6, [p.name for p in BENCH]


@pytest.mark.parametrize("path", [*BENCH, COMMAND], ids=lambda p: p.name)
def test_no_function_is_over_60_lines(path: Path) -> None:
    found = functions(path)
    assert found or path.name in {"__init__.py", "errors.py"}, "no functions parsed"
    long = {name: lines for name, lines in found if lines > MAX_LINES}
    assert long == {}, f"{path.name}: functions over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("path", [*BENCH, COMMAND], ids=lambda p: p.name)
def test_no_environment_reads_and_no_own_socket_probing(path: Path) -> None:
    text = path.read_text()
    for needle in ("os.environ", "getenv(", "import socket"):
        assert needle not in text, f"{path.name} uses {needle}"


def test_the_length_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n\ndef short():\n    return 1\n")
    assert dict(functions(sample)) == {"long": MAX_LINES + 1, "short": 2}
