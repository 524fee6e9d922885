"""SIGTERM stops `consentgate demo` and everything it started, as Ctrl-C does. Before, a `kill` (or
a closed terminal, or a timeout) ended the demo at once and left its worker and connectors running,
and the embedded broker and registry when the demo had started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from streams.devtools.localstack.process import is_alive
from streams.devtools.ports import free_port
from streams.devtools.runner import worker_env

STARTUP_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 90.0


def children_of(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def test_sigterm_stops_the_demo_and_its_worker_and_connectors(kafka_stack, tmp_path):
    settings = kafka_stack.settings(web_port=free_port())
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams", "demo", "--recipients", "300", "--rate", "100"],
        cwd=tmp_path, env=worker_env(settings),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    driving = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "verdicts/s" in line:
                driving.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    children: set[int] = set()
    try:
        assert driving.wait(STARTUP_TIMEOUT_S), "the demo never drove traffic:\n" + "".join(
            lines[-40:]
        )
        children = children_of(demo.pid)
        assert len(children) >= 2, f"expected the worker and the connectors, found {children}"
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=STOP_TIMEOUT_S) == 0, "".join(lines[-40:])
        reader.join(timeout=10)
        assert any("stopping..." in line for line in lines)
        deadline = time.monotonic() + 10
        while any(is_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if is_alive(pid)], "the demo left children running"
    finally:
        for pid in [demo.pid, *children]:
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)
        demo.wait(timeout=10)
