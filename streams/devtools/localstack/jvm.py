"""Faster JVM starts with a class-data-sharing (AppCDS) archive kept in the state directory.

Most of a Kafka or Quarkus start is loading and verifying the same few thousand classes. The
first start of a server records them (`-XX:ArchiveClassesAtExit`, written when it stops); every
later start maps that archive (`-XX:SharedArchiveFile`). Measured here: Kafka ready in ~2.5 s
instead of ~4 s, the registry in ~3 s instead of ~5.5 s.

Two traps. A truncated archive (the JVM killed while writing it, a full disk) crashes JDK 17 at
start (SIGBUS in FileMapInfo) instead of being ignored, so a new archive is written under
`.new` and promoted only after a `java -version` has mapped it without crashing. And an
archive of another JDK build is silently ignored, never replaced, so the file name carries the
JDK build and the server version: an upgrade of either records a new one.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from streams.devtools.localstack.prereqs import Java


def archive_path(workdir: Path, java: Java, server_version: str) -> Path:
    build = hashlib.sha256(java.version_text.encode()).hexdigest()[:8]
    return workdir / f"classes-{server_version}-jdk{java.major}-{build}.jsa"


def _maps_cleanly(java: Java, archive: Path) -> bool:
    try:
        done = subprocess.run(
            [java.path, f"-XX:SharedArchiveFile={archive}", "-version"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def class_data_sharing(java: Java, archive: Path) -> list[str]:
    """Flags that use the archive when there is a sound one, else have this run record it."""
    recorded = archive.with_name(archive.name + ".new")
    if recorded.is_file():
        if _maps_cleanly(java, recorded):
            recorded.replace(archive)
        else:
            recorded.unlink()
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"]
    return [f"-XX:ArchiveClassesAtExit={recorded}"]
