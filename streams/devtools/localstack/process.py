"""Our server processes: started detached, recorded in pid files, recognised, stopped by pid only.

A pid file alone is not proof: after a reboot or a crash its number may belong to anyone. Every
JVM we start carries `-Dconsentgate.stack=<absolute state dir>` as one exact argument, so a pid
counts as ours only when that process is alive and its command line has that argument. Nothing
here ever finds or kills a process by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MARKER_PROPERTY = "consentgate.stack"

# Children started by this Python process: kept so they can be reaped (no zombies, no warnings).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def marker(state_dir: Path) -> str:
    """The JVM argument that ties a process to one state directory."""
    return f"-D{MARKER_PROPERTY}={state_dir}"


def _reap(pid: int) -> None:
    """Collect an exited child of this very process, so it does not linger as a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        stat = ""
    if stat:
        # The state letter follows the parenthesised command name, which may hold spaces.
        if stat.rpartition(")")[2].split()[:1] != ["Z"]:
            return True
        # "Z" is also what a JVM shows while shutting down: its main thread has exited, the
        # others still run. It is gone only when no other thread is left.
        try:
            return len(os.listdir(f"/proc/{pid}/task")) > 1
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        done = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True, check=False
        )
        return done.stdout.split()
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(pid: int, state_dir: Path) -> bool:
    """A live process started for this state directory: its command line carries the marker,
    or it is a child this process spawned and it still runs (between fork and exec its command
    line is still ours; treating it as foreign there once left a broker running unrecorded)."""
    if not is_alive(pid):
        return False
    if marker(state_dir) in command_line(pid):
        return True
    child = _CHILDREN.get(pid)
    return child is not None and child.poll() is None


@dataclass(frozen=True, slots=True)
class PidFile:
    """`<state>/run/<name>.pid`: the pid of the process `up` started, nothing else."""

    path: Path

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".pid.tmp")
        scratch.write_text(f"{pid}\n")
        scratch.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def spawn(command: list[str], log_file: Path, cwd: Path) -> int:
    """Start `command` in its own session, detached from the terminal, output to `log_file`.

    Its own session means Ctrl-C in the shell that ran `consentgate stack up` does not reach it
    and it outlives that command. The log is appended to, and rotated once past 10 MB.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists() and log_file.stat().st_size > 10_000_000:
        log_file.replace(log_file.with_name(log_file.name + ".1"))
    with open(log_file, "ab") as out, open(os.devnull, "rb") as devnull:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[child.pid] = child
    return child.pid


def stop(pids: list[int], timeout: float = 30.0) -> None:
    """SIGTERM each pid, wait up to `timeout` seconds for all of them, then SIGKILL the rest."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(is_alive(pid) for pid in pids):
            return
        time.sleep(0.1)
    for pid in pids:
        if is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.05)


def tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log, for error messages about a process that died."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
