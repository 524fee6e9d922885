"""What the machine must provide first: a JDK 17+, Maven (first run only), free ports.

Each check fails fast with one line that says what to install or what to free, because the
alternative (a JVM that dies with a class-version error, a broker that waits forever for a port
another process holds) costs minutes to diagnose.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from streams.devtools.localstack.errors import StackError

MIN_JAVA = 17
LOOPBACK = "127.0.0.1"

JAVA_HINT = "install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
MAVEN_HINT = "install Apache Maven 3.8+ (Debian: apt-get install maven)"

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def find_java() -> str:
    """The `java` to run: $JAVA_HOME/bin/java when that exists, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if not found:
        raise StackError(f"java not found: {JAVA_HINT}")
    return found


def parse_java_major(version_output: str) -> int:
    """The major version in `java -version` output (`1.8.0_x` is 8, `17.0.15` is 17)."""
    match = _VERSION.search(version_output)
    if not match:
        raise StackError(f"cannot read the Java version from {version_output.strip()[:80]!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


@dataclass(frozen=True, slots=True)
class Java:
    """A java executable and its major version."""

    path: str
    major: int
    version_text: str = ""  # what `java -version` printed: names the exact JDK build


def require_java(minimum: int = MIN_JAVA) -> Java:
    """The java executable, checked to be at least `minimum` (Kafka 4 brokers need 17)."""
    java = find_java()
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"cannot run {java} -version ({exc}): {JAVA_HINT}") from exc
    version_text = (done.stderr + done.stdout).strip()
    major = parse_java_major(version_text)
    if major < minimum:
        raise StackError(f"{java} is Java {major}, the stack needs {minimum}+: {JAVA_HINT}")
    return Java(java, major, version_text)


def require_maven() -> str:
    """The mvn executable; only needed the first time jars are resolved into the cache."""
    found = shutil.which("mvn")
    if not found:
        raise StackError(f"mvn not found (needed once, to fetch the jars): {MAVEN_HINT}")
    return found


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when a listening socket holds host:port.

    It binds with SO_REUSEADDR, as the JVM's server sockets do, so sockets of a stack stopped a
    moment ago (TIME_WAIT) do not count as busy, but any listener, on 0.0.0.0 too, does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def require_free_ports(ports: Iterable[tuple[str, int, str]]) -> None:
    """Fail at once, naming the port and its setting, when one we need is taken.

    `ports` holds (what listens, port, environment variable that sets it).
    """
    for what, port, variable in ports:
        if port_in_use(port):
            raise StackError(
                f"port {LOOPBACK}:{port} ({what}) is already in use: stop what holds it "
                f"(ss -ltnp 'sport = :{port}') or set {variable} to another port"
            )
