"""The local stack's pure parts: configs, ids, prerequisites, pid files, shell output. No JVM."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from streams.cli.stack import render_env
from streams.devtools.localstack import LocalStack, StackError, jars, jvm, kafka, prereqs, registry
from streams.devtools.localstack.process import PidFile, is_alive, is_ours, marker
from streams.devtools.ports import free_port
from streams.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().replace(
        state_dir=tmp_path / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        registry_port=free_port(),
    )


def _cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSENTGATE_", "KAFKA_"))}
    env.update(
        CONSENTGATE_STATE_DIR=str(settings.state_dir),
        CONSENTGATE_KAFKA_PORT=str(settings.kafka_port),
        CONSENTGATE_KAFKA_CONTROLLER_PORT=str(settings.kafka_controller_port),
        CONSENTGATE_REGISTRY_PORT=str(settings.registry_port),
        **extra,
    )
    return env


def _stack_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- configuration ------------------------------------------------------------------------------


def test_server_properties_listen_on_loopback_only(tmp_path):
    rendered = kafka.render_server_properties(19092, 19093, tmp_path / "data")
    props = dict(
        line.split("=", 1) for line in rendered.splitlines() if line and not line.startswith("#")
    )
    for key in ("listeners", "advertised.listeners"):
        endpoints = props[key].split(",")
        assert endpoints == ["PLAINTEXT://127.0.0.1:19092", "CONTROLLER://127.0.0.1:19093"]
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert "0.0.0.0" not in rendered
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"


def test_registry_binds_loopback_without_a_second_listener(tmp_path):
    fake = jars.RegistryJars("2.6.13.Final", tmp_path, tmp_path / "app-runner.jar")
    java = prereqs.Java("java", 17, 'openjdk version "17.0.15"')
    command = registry.command(java, fake, tmp_path, tmp_path / "registry", 18081)
    assert "-Dquarkus.http.host=127.0.0.1" in command
    assert "-Dquarkus.http.port=18081" in command
    assert any("UuidProcessId" in part for part in command)  # no SocketProcessId port
    assert marker(tmp_path) in command
    assert registry.url(18081) == "http://127.0.0.1:18081/apis/ccompat/v7"


def test_log4j_config_is_properties_not_yaml():
    rendered = kafka.render_log4j2()
    assert "appender.out.type = Console" in rendered
    assert "rootLogger.level = info" in rendered


def test_log4j2_binding_follows_the_kafka_release_line():
    assert jars.log4j2_version_for("4.2.0") == "2.25.3"
    assert jars.log4j2_version_for("4.1.1") == "2.24.3"
    assert jars.log4j2_version_for("4.0.0") == "2.24.3"
    with pytest.raises(StackError, match=r"Kafka 9\.9\.0.*known: 4\.0\.x"):
        jars.log4j2_version_for("9.9.0")
    pom = jars.kafka_pom("4.2.0")
    assert "<artifactId>log4j-slf4j-impl</artifactId>" in pom  # the SLF4J 1.7 binding
    assert "slf4j2" not in pom


def test_kafka_version_is_read_from_the_jar_names(tmp_path):
    for name in ("kafka-clients-4.2.0.jar", "kafka_2.13-4.2.0.jar", "scala-library-2.13.17.jar"):
        (tmp_path / name).touch()
    assert jars.kafka_version_of(tmp_path) == "4.2.0"


def test_registry_version_decides_the_java_needed():
    assert registry.minimum_java("2.6.13.Final") == 17
    assert registry.minimum_java("3.3.3") == 21


def _fake_java(tmp_path: Path, exit_code: int) -> prereqs.Java:
    script = tmp_path / f"java-{exit_code}"
    script.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return prereqs.Java(str(script), 17, f"fake {exit_code}")


def test_class_data_archive_is_recorded_then_used(tmp_path):
    java = _fake_java(tmp_path, 0)
    archive = jvm.archive_path(tmp_path, java, "4.2.0")
    assert archive.name.startswith("classes-4.2.0-jdk17-")
    assert jvm.class_data_sharing(java, archive) == [f"-XX:ArchiveClassesAtExit={archive}.new"]
    Path(f"{archive}.new").write_bytes(b"recorded at exit")
    assert jvm.class_data_sharing(java, archive) == [f"-XX:SharedArchiveFile={archive}"]
    assert archive.read_bytes() == b"recorded at exit"


def test_class_data_archive_that_crashes_the_jvm_is_dropped(tmp_path):
    java = _fake_java(tmp_path, 134)  # what JDK 17 does with a truncated archive: SIGBUS
    archive = jvm.archive_path(tmp_path, java, "4.2.0")
    Path(f"{archive}.new").write_bytes(b"truncated")
    assert jvm.class_data_sharing(java, archive) == [f"-XX:ArchiveClassesAtExit={archive}.new"]
    assert not archive.exists()
    assert not Path(f"{archive}.new").exists()


def test_class_data_archive_names_the_jdk_build(tmp_path):
    one = prereqs.Java("java", 17, 'openjdk version "17.0.15"')
    other = prereqs.Java("java", 17, 'openjdk version "17.0.16"')
    assert jvm.archive_path(tmp_path, one, "4.2.0") != jvm.archive_path(tmp_path, other, "4.2.0")


# -- cluster id ---------------------------------------------------------------------------------


def test_cluster_id_looks_like_kafkas():
    for _ in range(200):
        cluster_id = kafka.new_cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_cluster_id_never_starts_with_a_dash(monkeypatch):
    dash_first = uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64 of 0b111110.. is '-'
    plain = uuid.UUID(bytes=b"\x10" + bytes(15))
    values = iter([dash_first, plain])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(values))
    assert kafka.new_cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")


# -- prerequisites ------------------------------------------------------------------------------


def test_missing_java_is_one_clear_error(monkeypatch, settings):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(StackError, match=r"^java not found: install a JDK 17\+"):
        LocalStack(settings).up()


def test_missing_java_from_the_command_line(tmp_path, settings):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = _cli_env(settings, PATH=str(empty))
    env.pop("JAVA_HOME", None)
    done = _stack_cli("up", env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("consentgate: java not found: install a JDK 17+")
    assert "apt-get install openjdk-17-jre-headless" in lines[0]


def test_missing_maven_from_the_command_line(tmp_path, settings):
    java = shutil.which("java")
    if java is None:
        pytest.fail("this test needs a java on PATH (the stack needs one anyway)")
    only_java = tmp_path / "only-java"
    only_java.mkdir()
    (only_java / "java").symlink_to(Path(java).resolve())
    env = _cli_env(settings, PATH=str(only_java))
    env.pop("JAVA_HOME", None)
    done = _stack_cli("up", env=env)  # the state dir's jar cache is empty: Maven is needed
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "consentgate: mvn not found (needed once, to fetch the jars): "
        "install Apache Maven 3.8+ (Debian: apt-get install maven)"
    ]


def test_missing_maven_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(StackError, match=r"^mvn not found .*install Apache Maven"):
        jars.resolve_kafka(tmp_path / "cache", "4.2.0")


def test_old_java_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(StackError, match=r"is Java 11, the stack needs 17\+"):
        prereqs.require_java()


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
    ],
)
def test_java_version_parsing(output, major):
    assert prereqs.parse_java_major(output) == major


def test_port_in_use_fails_fast(settings):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.registry_port))
        holder.listen()
        started = time.monotonic()
        expected = rf"port 127\.0\.0\.1:{settings.registry_port} "
        with pytest.raises(StackError, match=expected) as err:
            LocalStack(settings).up()
        assert "CONSENTGATE_REGISTRY_PORT" in str(err.value)
        assert time.monotonic() - started < 2


def test_a_free_port_is_free():
    assert not prereqs.port_in_use(free_port())


# -- pid files ----------------------------------------------------------------------------------


def test_dead_pid_is_stale(settings):
    finished = subprocess.Popen(["true"])
    finished.wait()
    stack = LocalStack(settings)
    stack.pid_file("kafka").write(finished.pid)
    assert not is_alive(finished.pid)
    assert stack.running_pid("kafka") is None
    assert stack.status().components[0].state == "stopped"
    assert stack.down() == []
    assert stack.pid_file("kafka").read() is None


def test_live_pid_of_someone_else_is_not_ours(settings):
    stack = LocalStack(settings)
    stack.pid_file("registry").write(os.getpid())  # alive, but not a process of this stack
    assert is_alive(os.getpid())
    assert not is_ours(os.getpid(), stack.state_dir)
    assert stack.running_pid("registry") is None
    assert stack.down() == []  # and this test is still running: nothing was signalled
    assert not stack.status().any_running


def test_ours_means_the_exact_marker_argument(tmp_path):
    state = tmp_path / "stack"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker(state)])
    try:
        # Right after fork the child's cmdline is still the parent's: wait for the exec.
        cmdline = Path(f"/proc/{sleeper.pid}/cmdline")
        deadline = time.monotonic() + 10
        while marker(state).encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert is_ours(sleeper.pid, state)
        assert not is_ours(sleeper.pid, tmp_path / "stack2")
        assert not is_ours(sleeper.pid, tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_pid_file_round_trip(tmp_path):
    pid_file = PidFile(tmp_path / "run" / "x.pid")
    assert pid_file.read() is None
    pid_file.write(4242)
    assert pid_file.read() == 4242
    pid_file.path.write_text("garbage")
    assert pid_file.read() is None
    pid_file.remove()
    pid_file.remove()


# -- shell output -------------------------------------------------------------------------------


def test_env_output_evals_in_bash(settings):
    env = _cli_env(settings)
    script = f"""eval "$({sys.executable} -m streams stack env)"; """
    script += 'echo "$KAFKA_BOOTSTRAP_SERVERS|$SCHEMA_REGISTRY_URL"'
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == (
        f"127.0.0.1:{settings.kafka_port}|http://127.0.0.1:{settings.registry_port}/apis/ccompat/v7"
    )


def test_env_quotes_what_the_shell_would_misread():
    rendered = render_env({"SCHEMA_REGISTRY_URL": "http://h:1/a b$(touch x)"})
    done = subprocess.run(
        ["bash", "-c", rendered + 'printf %s "$SCHEMA_REGISTRY_URL"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "http://h:1/a b$(touch x)"


def test_status_of_a_stopped_stack_exits_3(settings):
    done = _stack_cli("status", env=_cli_env(settings))
    assert done.returncode == 3
    assert "kafka" in done.stdout and "stopped" in done.stdout
    assert f"127.0.0.1:{settings.kafka_port}" in done.stdout
    assert "Apache Kafka 4." in done.stdout
