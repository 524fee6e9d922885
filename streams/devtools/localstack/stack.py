"""`up`, `down`, `status`, `env` of the local stack: two JVMs, their pid files, their addresses.

The state directory holds everything (made absolute, because it is also the marker that tells our
processes apart from anyone else's):

    <state>/run/{kafka,registry}.pid    pid of the process `up` started
    <state>/run/{kafka,registry}.json   what that process is: version, address, log
    <state>/kafka/                      server.properties, log4j2.properties, data/ (kept)
    <state>/registry/db/                the registry's schemas, an H2 file database (kept)
    <state>/{kafka,registry}/*.jsa      class-data-sharing archives (faster JVM starts)
    <state>/logs/{kafka,registry}.log   their output
    <state>/cache/                      resolved jars, unless another cache dir is given
    <state>/security/                   CA, broker key, passwords of a `--secure` stack (0700)

`up` is idempotent: what already runs (ours, by pid file and command line) is only waited for.
An `up` that fails stops what it started itself, and nothing else. A file lock serialises `up`
and `down` on one state directory, so two shells or test sessions cannot start it twice.

A state directory formatted with `secure=True` (`consentgate stack up --secure`) stays secured:
TLS, SASL/SCRAM and ACLs (security.py); its status checks and `env` use the admin's or a chosen
principal's credentials, read from `<state>/security/credentials.json`.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from streams.devtools.localstack import jars as jarcache
from streams.devtools.localstack import kafka, registry, security
from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.prereqs import LOOPBACK, MIN_JAVA, require_free_ports, require_java
from streams.devtools.localstack.process import PidFile, is_ours, spawn, stop
from streams.settings import Settings

KAFKA = "kafka"
REGISTRY = "registry"
COMPONENTS = (KAFKA, REGISTRY)

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class StackEndpoints:
    """Where the stack answers, which versions it runs, and what this `up` call started."""

    bootstrap_servers: str
    schema_registry_url: str
    kafka_version: str
    registry_version: str
    started: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "SCHEMA_REGISTRY_URL": self.schema_registry_url,
        }


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    state: str  # "ready", "running" (alive, not answering), "stopped"
    pid: int | None
    address: str
    product: str
    version: str
    log_file: Path


@dataclass(frozen=True, slots=True)
class StackStatus:
    state_dir: Path
    components: tuple[ComponentStatus, ...]

    @property
    def all_up(self) -> bool:
        return all(c.state == "ready" for c in self.components)

    @property
    def any_running(self) -> bool:
        return any(c.state != "stopped" for c in self.components)


class LocalStack:
    """The embedded Kafka broker and schema registry of one state directory.

    `cache_dir` (default `<state>/cache`) is where resolved jars live; stacks with different
    state directories can share one, as the test fixtures do.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache_dir: Path | None = None,
        log: Log | None = None,
        secure: bool = False,
        proxied_listener: tuple[int, int] | None = None,
    ) -> None:
        self.settings = settings
        # (listen, advertised) port of an extra plaintext listener behind a test's TCP proxy
        self.proxied_listener = proxied_listener
        self.state_dir = settings.state_dir.expanduser().resolve()
        self.cache_dir = (cache_dir or self.state_dir / "cache").expanduser().resolve()
        self.log = log or _quiet
        self.kafka_layout = kafka.KafkaLayout.under(self.state_dir)
        self.security_layout = security.SecurityLayout.under(self.state_dir)
        # Asked for, or already so: a secured state directory is never started open.
        self.secure = secure or kafka.formatted_secure(self.kafka_layout)
        self._lock_depth = 0
        self._lock_handle: IO[str] | None = None

    # -- files ------------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def log_file(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> PidFile:
        return PidFile(self.run_dir / f"{name}.pid")

    def _meta_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def _meta(self, name: str) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self._meta_file(name).read_text())
            return loaded
        except (FileNotFoundError, ValueError):
            return {}

    def running_pid(self, name: str) -> int | None:
        """The pid of our running `name` process, or None (a stale pid file does not count)."""
        pid = self.pid_file(name).read()
        return pid if pid is not None and is_ours(pid, self.state_dir) else None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use of this state directory (re-entrant within one LocalStack)."""
        if self._lock_depth == 0:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.state_dir / "stack.lock", "a")  # noqa: SIM115 - held across yield
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._lock_handle = handle
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_handle is not None:
                fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
                self._lock_handle.close()
                self._lock_handle = None

    # -- security ---------------------------------------------------------------------------

    def credentials(self) -> security.Credentials:
        return security.Credentials.load(self.security_layout.credentials_file)

    def client_settings(self, principal: str = security.ADMIN) -> Settings:
        """Settings that reach this stack as `principal` (unchanged settings when not secure)."""
        endpoints = self.endpoints()
        settings = self.settings.replace(
            kafka_bootstrap_servers=endpoints.bootstrap_servers,
            schema_registry_url=endpoints.schema_registry_url,
        )
        if not self.secure:
            return settings
        return security.client_settings(
            settings, self.security_layout, self.credentials(), principal
        )

    def client_env(self, principal: str = security.WORKER) -> dict[str, str]:
        """What `consentgate stack env` prints: the endpoints, and on a secured stack the
        variables (password included) that connect as `principal`."""
        env = self.endpoints().env()
        if self.secure:
            env.update(security.client_env(self.security_layout, self.credentials(), principal))
        return env

    def _admin_config(self) -> dict[str, Any] | None:
        if not self.secure:
            return None
        from streams.kafka_config import security_config

        return security_config(self.client_settings(security.ADMIN))

    def grant_gate(self, topic_prefix: str, app_id: str) -> int:
        """ACLs for one gate's worker and connectors on a secured stack (no-op when open)."""
        if not self.secure:
            return 0
        from streams.kafka_config import client_config

        bindings = security.gate_acls(topic_prefix, app_id)
        return security.grant(client_config(self.client_settings(security.ADMIN)), bindings)

    # -- addresses and versions -------------------------------------------------------------

    def _address(self, name: str) -> str:
        recorded = self._meta(name).get("address")
        if recorded and self.running_pid(name):
            return str(recorded)
        if name == KAFKA:
            return f"{LOOPBACK}:{self.settings.kafka_port}"
        return registry.url(self.settings.registry_port)

    def _port(self, name: str) -> int:
        """The port `name` listens on: as recorded when it was started, else from the settings."""
        recorded = self._meta(name).get("port")
        if recorded and self.running_pid(name):
            return int(recorded)
        return self.settings.kafka_port if name == KAFKA else self.settings.registry_port

    def kafka_version(self) -> str:
        """The broker version: of the running broker, else of the cached jars, else the setting."""
        recorded = self._meta(KAFKA).get("version")
        if recorded and self.running_pid(KAFKA):
            return str(recorded)
        cached = jarcache.cached_kafka(self.cache_dir, self.settings.kafka_version)
        return cached.version if cached else self.settings.kafka_version

    def registry_version(self) -> str:
        recorded = self._meta(REGISTRY).get("version")
        if recorded and self.running_pid(REGISTRY):
            return str(recorded)
        return self.settings.registry_version

    def endpoints(self, started: tuple[str, ...] = ()) -> StackEndpoints:
        return StackEndpoints(
            bootstrap_servers=self._address(KAFKA),
            schema_registry_url=self._address(REGISTRY),
            kafka_version=self.kafka_version(),
            registry_version=self.registry_version(),
            started=started,
        )

    # -- up ---------------------------------------------------------------------------------

    def up(self, timeout: float = 120.0) -> StackEndpoints:
        """Start what is not running, wait until both answer; `timeout` is per component."""
        with self.lock():
            running = {name: pid for name in COMPONENTS if (pid := self.running_pid(name))}
            for name in COMPONENTS:
                if name not in running:
                    self.pid_file(name).remove()
                    self._meta_file(name).unlink(missing_ok=True)
            to_start = [name for name in COMPONENTS if name not in running]
            started: list[str] = []
            try:
                if to_start:
                    self._start(to_start, started)
                self._wait(timeout)
                if self.secure:
                    count = self.grant_gate(self.settings.topic_prefix, self.settings.app_id)
                    self.log(f"ACLs in place ({count}) for app id {self.settings.app_id!r}")
            except BaseException:
                self._stop(started)
                raise
            return self.endpoints(started=tuple(started))

    def _ports(self, names: list[str]) -> list[tuple[str, int, str]]:
        s = self.settings
        ports: list[tuple[str, int, str]] = []
        if KAFKA in names:
            ports.append(("Kafka broker", s.kafka_port, "CONSENTGATE_KAFKA_PORT"))
            ports.append(
                ("KRaft controller", s.kafka_controller_port, "CONSENTGATE_KAFKA_CONTROLLER_PORT")
            )
        if REGISTRY in names:
            ports.append(("schema registry", s.registry_port, "CONSENTGATE_REGISTRY_PORT"))
        return ports

    def _start(self, names: list[str], started: list[str]) -> None:
        require_free_ports(self._ports(names))
        needs = MIN_JAVA
        if REGISTRY in names:
            needs = max(needs, registry.minimum_java(self.settings.registry_version))
        java = require_java(needs)
        kafka_jars = registry_jars = None
        if KAFKA in names:
            kafka_jars = jarcache.resolve_kafka(
                self.cache_dir, self.settings.kafka_version, self.log
            )
        if REGISTRY in names:
            registry_jars = jarcache.resolve_registry(
                self.cache_dir, self.settings.registry_version, self.log
            )
        # Both JVMs boot at once: the registry keeps its schemas in H2, not in Kafka.
        if kafka_jars is not None:
            layout = self.kafka_layout
            secured: list[str] | None = None
            users: list[str] | None = None
            if self.secure:
                credentials = security.ensure_material(self.security_layout)
                secured = security.render_security_properties(self.security_layout, credentials)
                users = security.format_arguments(credentials)
            cluster_id = kafka.prepare(
                layout,
                java.path,
                kafka_jars,
                self.settings.kafka_port,
                self.settings.kafka_controller_port,
                self.log,
                security=secured,
                format_arguments=users,
                proxied=self.proxied_listener,
            )
            address = f"{LOOPBACK}:{self.settings.kafka_port}"
            how = " (TLS, SASL/SCRAM-SHA-512, ACLs)" if self.secure else ""
            self.log(f"starting Apache Kafka {kafka_jars.version} on {address}{how}")
            pid = spawn(
                kafka.command(layout, java, kafka_jars, self.state_dir),
                log_file=self.log_file(KAFKA),
                cwd=layout.home,
            )
            self._record(
                KAFKA,
                pid,
                address=address,
                port=str(self.settings.kafka_port),
                version=kafka_jars.version,
                cluster_id=cluster_id,
                controller=f"{LOOPBACK}:{self.settings.kafka_controller_port}",
            )
            started.append(KAFKA)
        if registry_jars is not None:
            address = registry.url(self.settings.registry_port)
            self.log(f"starting Apicurio Registry {registry_jars.version} on {address}")
            workdir = self.state_dir / "registry"
            workdir.mkdir(parents=True, exist_ok=True)
            pid = spawn(
                registry.command(
                    java, registry_jars, self.state_dir, workdir, self.settings.registry_port
                ),
                log_file=self.log_file(REGISTRY),
                cwd=workdir,
            )
            self._record(
                REGISTRY,
                pid,
                address=address,
                port=str(self.settings.registry_port),
                version=registry_jars.version,
            )
            started.append(REGISTRY)

    def _record(self, name: str, pid: int, **meta: str) -> None:
        self.pid_file(name).write(pid)
        meta = {"pid": str(pid), "log": str(self.log_file(name)), **meta}
        self._meta_file(name).write_text(json.dumps(meta, indent=2) + "\n")

    def _alive(self, name: str) -> Callable[[], bool]:
        pid = self.pid_file(name).read()
        return lambda: pid is not None and is_ours(pid, self.state_dir)

    def _wait(self, timeout: float) -> None:
        kafka_port = self._port(KAFKA)
        cluster_id = kafka.wait_ready(
            kafka_port,
            self._alive(KAFKA),
            self.log_file(KAFKA),
            timeout,
            config=self._admin_config(),
        )
        recorded = self._meta(KAFKA).get("cluster_id")
        if recorded and recorded != cluster_id:
            raise StackError(
                f"the broker on {LOOPBACK}:{kafka_port} has cluster id {cluster_id}, "
                f"not ours ({recorded}): another broker holds the port"
            )
        registry.wait_ready(
            self._port(REGISTRY), self._alive(REGISTRY), self.log_file(REGISTRY), timeout
        )

    # -- down -------------------------------------------------------------------------------

    def down(self, timeout: float = 30.0) -> list[str]:
        """Stop the processes `up` started (by their pid files); return the names stopped."""
        with self.lock():
            return self._stop(list(COMPONENTS), timeout)

    def _stop(self, names: list[str], timeout: float = 30.0) -> list[str]:
        running = {name: pid for name in names if (pid := self.running_pid(name))}
        if running:
            self.log(f"stopping {', '.join(running)}")
            stop(list(running.values()), timeout=timeout)
        for name in names:
            self.pid_file(name).remove()
            self._meta_file(name).unlink(missing_ok=True)
        return list(running)

    # -- status -----------------------------------------------------------------------------

    def status(self) -> StackStatus:
        """What runs, where, which versions, and whether it answers a real request."""
        rows = []
        for name in COMPONENTS:
            pid = self.running_pid(name)
            address = self._address(name)
            state = "stopped"
            if pid is not None:
                state = "ready" if self._answers(name, address, self._admin_config()) else "running"
            rows.append(
                ComponentStatus(
                    name=name,
                    state=state,
                    pid=pid,
                    address=address,
                    product="Apache Kafka" if name == KAFKA else "Apicurio Registry",
                    version=self.kafka_version() if name == KAFKA else self.registry_version(),
                    log_file=self.log_file(name),
                )
            )
        return StackStatus(state_dir=self.state_dir, components=tuple(rows))

    @staticmethod
    def _answers(name: str, address: str, config: dict[str, Any] | None = None) -> bool:
        if name == KAFKA:
            return kafka.describe_cluster(address, timeout=3.0, config=config) is not None
        return registry.answers(address, timeout=3.0)
