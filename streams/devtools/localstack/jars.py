"""Server jars from Maven Central, resolved once into a cache directory and reused.

Maven does the resolving (dependency mediation, checksums, ~/.m2 reuse) so we never hand-maintain
a list of 46 jars. Each resolution goes into a temporary directory, gets a marker file written
last, and is renamed into place: a directory without its marker is an interrupted run and is
redone, a directory with it is never touched again. A file lock keeps two `up`s (a developer's
and a test session's) from resolving the same thing at once.

Kafka's Maven POM deliberately carries no logging backend (KAFKA-6317); the release tarball adds
`log4j-slf4j-impl` by hand, so we do too, at the log4j2 version that Kafka release was built with.
Kafka 4.0-4.2 log through SLF4J 1.7, so it must be the SLF4J-1 binding (`log4j-slf4j-impl`); the
SLF4J-2 one (`log4j-slf4j2-impl`) leaves the broker silently logging nowhere.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.prereqs import require_maven

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER = ".resolved"

# log4j2 version each Kafka release line was built with (gradle/dependencies.gradle upstream).
LOG4J2_FOR_KAFKA: dict[str, str] = {"4.0": "2.24.3", "4.1": "2.24.3", "4.2": "2.25.3"}

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class KafkaJars:
    version: str
    libs: Path

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"


@dataclass(frozen=True, slots=True)
class RegistryJars:
    version: str
    home: Path
    runner: Path


def log4j2_version_for(kafka_version: str) -> str:
    line = ".".join(kafka_version.split(".")[:2])
    try:
        return LOG4J2_FOR_KAFKA[line]
    except KeyError:
        known = ", ".join(f"{k}.x" for k in LOG4J2_FOR_KAFKA)
        raise StackError(
            f"Kafka {kafka_version}: unknown log4j2 version for this release line "
            f"(known: {known}); add it to LOG4J2_FOR_KAFKA in streams/localstack/jars.py"
        ) from None


def kafka_pom(kafka_version: str) -> str:
    """A throw-away POM whose runtime dependency closure is exactly the broker's classpath."""
    log4j2 = log4j2_version_for(kafka_version)
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>consentgate.localstack</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j2}</version>
    </dependency>
  </dependencies>
</project>
"""


def kafka_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"kafka-{version}"


def registry_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"apicurio-registry-{version}"


def cached_kafka(cache_dir: Path, version: str) -> KafkaJars | None:
    home = kafka_dir(cache_dir, version)
    if not (home / MARKER).is_file():
        return None
    return KafkaJars(version=kafka_version_of(home / "libs"), libs=home / "libs")


def cached_registry(cache_dir: Path, version: str) -> RegistryJars | None:
    home = registry_dir(cache_dir, version)
    if not (home / MARKER).is_file():
        return None
    return RegistryJars(version=version, home=home, runner=_runner_jar(home))


def kafka_version_of(libs: Path) -> str:
    """The broker version, read from the `kafka_2.13-<version>.jar` Maven put in `libs`."""
    for jar in sorted(libs.glob("kafka_2.13-*.jar")):
        version = jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
        if version[:1].isdigit() and not version.endswith(("-sources", "-test")):
            return version
    raise StackError(f"no kafka_2.13-<version>.jar in {libs}: remove that directory and retry")


def resolve_kafka(cache_dir: Path, version: str, log: Log = _quiet) -> KafkaJars:
    """The broker's jars for `version`, fetched with Maven the first time."""
    found = cached_kafka(cache_dir, version)
    if found:
        return found
    log4j2_version_for(version)  # unknown release line: say so before Maven runs
    with _cache_lock(cache_dir):
        found = cached_kafka(cache_dir, version)
        if found:
            return found
        mvn = require_maven()
        log(f"resolving Apache Kafka {version} jars with Maven (first run only)")
        with _staging(cache_dir, kafka_dir(cache_dir, version)) as staging:
            (staging / "pom.xml").write_text(kafka_pom(version))
            _maven(
                mvn,
                [
                    "-f",
                    str(staging / "pom.xml"),
                    f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging / 'libs'}",
                ],
                cwd=staging,
                what=f"org.apache.kafka:kafka_2.13:{version}",
            )
            kafka_version_of(staging / "libs")
    result = cached_kafka(cache_dir, version)
    assert result is not None
    return result


def resolve_registry(cache_dir: Path, version: str, log: Log = _quiet) -> RegistryJars:
    """Apicurio Registry's Quarkus app for `version`, fetched and unpacked the first time."""
    found = cached_registry(cache_dir, version)
    if found:
        return found
    with _cache_lock(cache_dir):
        found = cached_registry(cache_dir, version)
        if found:
            return found
        mvn = require_maven()
        log(f"resolving Apicurio Registry {version} with Maven (first run only, ~140 MB)")
        artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
        with _staging(cache_dir, registry_dir(cache_dir, version)) as staging:
            download = staging / "download"
            _maven(
                mvn,
                [
                    f"{DEPENDENCY_PLUGIN}:copy",
                    f"-Dartifact={artifact}",
                    f"-DoutputDirectory={download}",
                ],
                cwd=staging,
                what=artifact,
            )
            for tarball in download.glob("*.tar.gz"):
                with tarfile.open(tarball) as archive:
                    archive.extractall(staging, filter="data")
            shutil.rmtree(download)
            _runner_jar(staging)
    result = cached_registry(cache_dir, version)
    assert result is not None
    return result


def _runner_jar(home: Path) -> Path:
    """2.x unpacks to `*-runner.jar` + `lib/`; 3.x to the Quarkus fast-jar `quarkus-run.jar`."""
    candidates = [
        *sorted(home.glob("*-runner.jar")),
        *sorted(home.glob("quarkus-run.jar")),
        *sorted(home.glob("quarkus-app/quarkus-run.jar")),
    ]
    if not candidates:
        raise StackError(f"no runnable registry jar in {home}: remove that directory and retry")
    return candidates[0]


def _maven(mvn: str, arguments: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(
            [mvn, "-B", "-q", *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"Maven did not resolve {what} within 15 minutes") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).splitlines()
        errors = [line for line in output if "ERROR" in line] or output[-3:] or ["no output"]
        raise StackError(f"Maven could not resolve {what}: {errors[0].strip()}")


@contextmanager
def _cache_lock(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _staging(cache_dir: Path, final: Path) -> Iterator[Path]:
    """A scratch directory that becomes `final` (marker written last) only if the body succeeds."""
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=cache_dir))
    try:
        yield staging
        (staging / MARKER).write_text(final.name + "\n")
        if final.exists():  # an interrupted earlier run left it without its marker
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
