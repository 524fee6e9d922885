"""One Apache Kafka 4 node in KRaft mode (broker and controller in one JVM) on 127.0.0.1.

The configuration is the upstream 4.x `config/server.properties` cut down to what a single local
node needs, plus the settings that make a one-node cluster quick in tests: internal topics with
one partition and replica, and no initial rebalance delay for new consumer groups.

Storage is formatted once (KIP-853 `--standalone`: this node is the whole controller quorum) and
then reused by every later `up`, so topics and offsets survive `down`/`up`.

Readiness is a real client round trip (DescribeCluster), not an open port: the broker accepts
connections before it has caught up with its metadata and been unfenced.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.jars import KafkaJars
from streams.devtools.localstack.jvm import archive_path, class_data_sharing
from streams.devtools.localstack.prereqs import LOOPBACK, Java
from streams.devtools.localstack.process import marker, tail

JVM_FLAGS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
    # Kafka's own shutdown hook logs the controlled shutdown; log4j's would cut it off midway.
    "-Dlog4j2.shutdownHookEnabled=false",
)
FORMAT_HEAP = "-Xmx512m"  # the storage tool's default of 256 MB is known to be tight


@dataclass(frozen=True, slots=True)
class KafkaLayout:
    """Where one node keeps its files, all under `<state>/kafka` and `<state>/logs`."""

    home: Path
    logs: Path

    @classmethod
    def under(cls, state_dir: Path) -> KafkaLayout:
        return cls(home=state_dir / "kafka", logs=state_dir / "logs")

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def formatted(self) -> Path:
        """What the data directory was formatted with; written after a successful format."""
        return self.home / "format.json"

    @property
    def log_file(self) -> Path:
        return self.logs / "kafka.log"


def new_cluster_id() -> str:
    """A cluster id as Kafka makes one: 16 random bytes, URL-safe base64, no padding, 22 chars.

    Kafka's own generator never returns an id starting with '-' (it would read as an option on
    the command line), so neither do we.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def render_server_properties(
    port: int,
    controller_port: int,
    data_dir: Path,
    security: list[str] | None = None,
    proxied: tuple[int, int] | None = None,
) -> str:
    """The node's configuration; `security` (from `security.render_security_properties`) turns
    the client listener into the SASL_SSL listener CLIENT and secures the controller's.

    `proxied` = (listen port, advertised port) adds a plaintext listener PROXIED that tells its
    clients to connect to the advertised port: a test's TCP proxy in front of the broker (clients
    reconnect to what metadata advertises, so without it they would bypass the proxy)."""
    name = "CLIENT" if security else "PLAINTEXT"
    broker = f"{name}://{LOOPBACK}:{port}"
    controller = f"CONTROLLER://{LOOPBACK}:{controller_port}"
    listeners = security or [
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        + (",PROXIED:PLAINTEXT" if proxied else ""),
    ]
    advertised = broker
    if proxied and not security:
        broker += f",PROXIED://{LOOPBACK}:{proxied[0]}"
        advertised += f",PROXIED://{LOOPBACK}:{proxied[1]}"
    return "\n".join(
        [
            "# Written by `consentgate stack up` on every start; edits here are overwritten.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={LOOPBACK}:{controller_port}",
            f"listeners={broker},{controller}",
            f"advertised.listeners={advertised},{controller}",
            "controller.listener.names=CONTROLLER",
            *listeners,
            f"log.dirs={data_dir}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def render_log4j2() -> str:
    """log4j2 in .properties form: YAML would need jackson-yaml, a Log4j-1 file the 1.2 bridge."""
    return "\n".join(
        [
            "status = warn",
            "appender.out.type = Console",
            "appender.out.name = out",
            "appender.out.layout.type = PatternLayout",
            "appender.out.layout.pattern = [%d] %p %m (%c)%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.out.ref = out",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = warn",
            "logger.channel.name = kafka.network.RequestChannel$",
            "logger.channel.level = warn",
            "# the full configuration, dumped five times per start; server.properties has it",
            "logger.config.name = kafka.server.KafkaConfig",
            "logger.config.level = warn",
            "",
        ]
    )


def prepare(
    layout: KafkaLayout,
    java: str,
    jars: KafkaJars,
    port: int,
    controller_port: int,
    log: Callable[[str], None],
    security: list[str] | None = None,
    format_arguments: list[str] | None = None,
    proxied: tuple[int, int] | None = None,
) -> str:
    """Write the config files, format the storage on first use; return the cluster id.

    A secured node (`security`, with the SCRAM users in `format_arguments`) and a plain one
    cannot share storage: the users and ACLs live in the metadata log the format wrote.
    """
    layout.home.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    # 0600: a secured node's file holds its own JAAS password.
    layout.properties.unlink(missing_ok=True)
    descriptor = os.open(layout.properties, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(
            render_server_properties(port, controller_port, layout.data, security, proxied)
        )
    layout.log4j.write_text(render_log4j2())
    secure = bool(security)
    if layout.formatted.is_file():
        formatted = json.loads(layout.formatted.read_text())
        if bool(formatted.get("secure", False)) != secure:
            was = "with" if formatted.get("secure") else "without"
            raise StackError(
                f"{layout.data} was formatted {was} --secure: start it the same way, or use "
                f"another CONSENTGATE_STATE_DIR (or remove {layout.home} to start afresh)"
            )
        if formatted["controller_port"] != controller_port:
            raise StackError(
                f"{layout.data} was formatted for controller port {formatted['controller_port']}, "
                f"not {controller_port}: use that port, or remove {layout.home} to start afresh"
            )
        return str(formatted["cluster_id"])
    if layout.data.exists():  # a format that did not finish: start it over
        shutil.rmtree(layout.data)
    cluster_id = new_cluster_id()
    log(f"formatting Kafka storage in {layout.data} (cluster id {cluster_id})")
    command = [
        java,
        FORMAT_HEAP,
        f"-Dlog4j2.configurationFile={layout.log4j}",
        "-cp",
        jars.classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(layout.properties),
        "--standalone",
        *(format_arguments or []),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackError("formatting Kafka storage took more than 120 s") from exc
    if done.returncode != 0:
        detail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise StackError("formatting Kafka storage failed:\n" + "\n".join(detail))
    layout.formatted.write_text(
        json.dumps(
            {
                "cluster_id": cluster_id,
                "controller_port": controller_port,
                "version": jars.version,
                "secure": secure,
            }
        )
        + "\n"
    )
    return cluster_id


def command(layout: KafkaLayout, java: Java, jars: KafkaJars, state_dir: Path) -> list[str]:
    return [
        java.path,
        *JVM_FLAGS,
        *class_data_sharing(java, archive_path(layout.home, java, jars.version)),
        marker(state_dir),
        f"-Dlog4j2.configurationFile={layout.log4j}",
        f"-Dkafka.logs.dir={layout.logs}",
        "-cp",
        jars.classpath,
        "kafka.Kafka",
        str(layout.properties),
    ]


def formatted_secure(layout: KafkaLayout) -> bool:
    """Whether this node's storage was formatted for the secured stack."""
    try:
        return bool(json.loads(layout.formatted.read_text()).get("secure", False))
    except (OSError, ValueError):
        return False


def describe_cluster(
    bootstrap_servers: str, timeout: float, config: dict[str, Any] | None = None
) -> str | None:
    """The cluster id, when a broker answers DescribeCluster with at least one node; else None.
    `config` adds client properties (the admin's credentials on a secured stack)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**(config or {}), "bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        description = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except Exception:
        return None
    return str(description.cluster_id) if description.nodes else None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ready(
    port: int,
    alive: Callable[[], bool],
    log_file: Path,
    timeout: float,
    config: dict[str, Any] | None = None,
) -> str:
    """Wait until the broker serves requests; return its cluster id. Fail early if it exits."""
    deadline = time.monotonic() + timeout
    bootstrap = f"{LOOPBACK}:{port}"
    while True:
        if not alive():
            raise StackError(
                f"Kafka exited during start-up; last lines of {log_file}:\n{tail(log_file)}"
            )
        # An open port is not readiness, but it is the cheap precondition for asking.
        if _accepts(port):
            cluster_id = describe_cluster(bootstrap, timeout=2.0, config=config)
            if cluster_id:
                return cluster_id
        if time.monotonic() > deadline:
            raise StackError(
                f"Kafka did not answer on {bootstrap} within {timeout:.0f} s; "
                f"last lines of {log_file}:\n{tail(log_file)}"
            )
        time.sleep(0.2)
