"""Apicurio Registry on 127.0.0.1, serving the Confluent schema registry API at /apis/ccompat/v7.

Confluent's own registry is not on Maven Central and Karapace is not on PyPI; Apicurio is both
Apache-licensed and published as a runnable Quarkus app. 2.6.x runs on Java 17; 3.x needs 21.
Its "in-memory" storage is SQL on an embedded H2 database; we point that at an H2 file in the
state directory. Kafka keeps its records across `down`/`up`, and each record names its schema by
id, so the schemas (and their ids) must survive too, or old records would stop decoding and new
schemas could be handed ids that old records already use.

Narayana, the transaction manager inside it, by default opens a server socket on a random port
only to derive a unique process id from it (SocketProcessId). It never accepts on it, but it is
one more listener than we want, so we switch it to the UUID-based id.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.jars import RegistryJars
from streams.devtools.localstack.jvm import archive_path, class_data_sharing
from streams.devtools.localstack.prereqs import LOOPBACK, Java
from streams.devtools.localstack.process import marker, tail

CCOMPAT_PATH = "/apis/ccompat/v7"
JVM_FLAGS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-Djava.awt.headless=true")
NARAYANA_UUID_PROCESS_ID = (
    "-DCoreEnvironmentBean.processImplementationClassName="
    "com.arjuna.ats.internal.arjuna.utils.UuidProcessId"
)

# Loopback never goes through an HTTP proxy, whatever the environment says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}{CCOMPAT_PATH}"


def minimum_java(version: str) -> int:
    """Apicurio 3.x is built for Java 21; 2.x for 17."""
    major = version.split(".", 1)[0]
    return 21 if major.isdigit() and int(major) >= 3 else 17


def database_url(workdir: Path) -> str:
    return f"jdbc:h2:file:{workdir / 'db' / 'registry'}"


def command(java: Java, jars: RegistryJars, state_dir: Path, workdir: Path, port: int) -> list[str]:
    return [
        java.path,
        *JVM_FLAGS,
        *class_data_sharing(java, archive_path(workdir, java, jars.version)),
        marker(state_dir),
        NARAYANA_UUID_PROCESS_ID,
        f"-Dquarkus.datasource.jdbc.url={database_url(workdir)}",
        # The app asks for a pool of 20 connections; one local user needs far fewer.
        "-Dquarkus.datasource.jdbc.initial-size=2",
        "-Dquarkus.datasource.jdbc.min-size=2",
        # Find a schema by its parsed form, as Confluent's registry does, not by its exact text:
        # clients look schemas up with whitespace and field order of their own.
        "-Dregistry.ccompat.use-canonical-hash=true",
        f"-Dquarkus.http.host={LOOPBACK}",
        f"-Dquarkus.http.port={port}",
        "-jar",
        str(jars.runner),
    ]


def answers(base_url: str, timeout: float) -> bool:
    """True when GET <base>/subjects returns 200: the Confluent API is being served."""
    try:
        with _DIRECT.open(f"{base_url}/subjects", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(port: int, alive: Callable[[], bool], log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    base = url(port)
    while True:
        if not alive():
            raise StackError(
                f"the schema registry exited during start-up; last lines of {log_file}:\n"
                f"{tail(log_file)}"
            )
        if answers(base, timeout=2.0):
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"the schema registry did not answer on {base} within {timeout:.0f} s; "
                f"last lines of {log_file}:\n{tail(log_file)}"
            )
        time.sleep(0.2)
