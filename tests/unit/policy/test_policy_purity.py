"""The decision core stays pure: no Kafka or Faust imports, no environment, no I/O.

Two exceptions, one module each: jurisdictions.py reads the jurisdiction table (the shipped one,
and the override file the settings name) and content/lexicon.py the shipped lexicons, once per
process, cached; decide() itself reads nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import streams.policy

POLICY_DIR = Path(streams.policy.__file__).parent
MODULES = sorted(
    ".".join(("streams", *path.relative_to(POLICY_DIR.parent).with_suffix("").parts))
    for path in POLICY_DIR.rglob("*.py")
)
FORBIDDEN = {"faust", "aiokafka", "confluent_kafka", "kafka", "mode", "rocksdict"}


def test_policy_imports_no_streaming_library() -> None:
    code = (
        "import sys\n"
        f"for name in {MODULES!r}:\n"
        "    __import__(name.removesuffix('.__init__'))\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_policy_reads_no_environment_and_opens_no_files() -> None:
    pattern = re.compile(r"\bos\.environ\b|\bgetenv\b|\bopen\(|\bPath\(|\bsubprocess\b|\bsocket\b")
    offenders = [
        f"{path.name}:{n}"
        for path in POLICY_DIR.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_only_the_table_loader_reads_files() -> None:
    pattern = re.compile(r"\.read_text\(|\.read_bytes\(|\bresources\b|\btomllib\b")
    readers = sorted(
        {path.name for path in POLICY_DIR.rglob("*.py") if pattern.search(path.read_text())}
    )
    assert readers == ["jurisdictions.py", "lexicon.py"]
