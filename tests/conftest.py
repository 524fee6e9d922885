"""Shared fixtures: one real Kafka broker and schema registry for the whole test session.

Where they come from, first match wins:

1. `KAFKA_BOOTSTRAP_SERVERS` and `SCHEMA_REGISTRY_URL`, when both are set: a stack someone runs
   (`streams.devtools.stacks.configured_endpoints` decides, as for `make demo` and `make bench`;
   one without the other fails).
2. Docker containers (testcontainers), when a Docker *engine* answers a ping. The `docker`
   client binary alone proves nothing, so it is not looked at.
3. The embedded stack (`streams.devtools.localstack`): Kafka and Apicurio from Maven jars, state in
   `.consentgate/test-stack`, ports 19092/19093/18081 so it never collides with a developer's
   `consentgate stack up` on the defaults. It shares that stack's jar cache
   (`<CONSENTGATE_STATE_DIR>/cache`, default `.consentgate/stack/cache`): jars are fetched once.

No broker is a failure, never a skip, in CI and out of it: a green run must have talked to a real
broker. Tests under tests/integration/ are marked `integration` automatically.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from streams.devtools.ports import free_port
from streams.devtools.stacks import StackChoiceError, configured_endpoints
from tests import ROOT
from tests.prom import in_ci

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"
TEST_STACK_DIR = ROOT / ".consentgate" / "test-stack"
DEFAULT_JAR_CACHE = ROOT / ".consentgate" / "stack" / "cache"
TEST_PORTS = {"kafka_port": 19092, "kafka_controller_port": 19093, "registry_port": 18081}
DOCKER_KAFKA_IMAGE = "apache/kafka:4.2.0"
DOCKER_REGISTRY_IMAGE = "confluentinc/cp-schema-registry:7.7.1"


@dataclass(frozen=True)
class KafkaStack:
    """What tests get from `kafka_stack`: where to connect, and what answers there."""

    bootstrap_servers: str
    schema_registry_url: str
    kafka_version: str  # "unknown" for a stack we did not start
    source: str

    def settings(self, **changes: Any) -> Any:
        """consentgate Settings pointing at this stack."""
        from streams.settings import Settings

        return Settings().replace(
            kafka_bootstrap_servers=self.bootstrap_servers,
            schema_registry_url=self.schema_registry_url,
            **changes,
        )


_STACK_KEY = pytest.StashKey[KafkaStack]()


def _jar_cache() -> Path:
    """Where `consentgate stack up` keeps its jars (relative state dirs are from the repo root)."""
    from streams.settings import Settings, SettingsError

    try:
        state_dir = Settings.from_env().state_dir
    except SettingsError:
        return DEFAULT_JAR_CACHE
    return (ROOT / state_dir.expanduser() / "cache").resolve()


# -- markers and report -------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No worker outlives the session: a test that failed before its own stop leaves none."""
    from streams.devtools.runner import kill_leftovers

    left = kill_leftovers()
    if left:
        session.config.stash[_LEFTOVERS_KEY] = left


_LEFTOVERS_KEY = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left = config.stash.get(_LEFTOVERS_KEY, 0)
    if left:
        terminalreporter.write_line(f"killed {left} worker(s) a test left running")
    stack = config.stash.get(_STACK_KEY, None)
    if stack is not None:
        terminalreporter.write_line(
            f"Kafka broker: {stack.kafka_version} ({stack.source}) at {stack.bootstrap_servers}; "
            f"schema registry at {stack.schema_registry_url}"
        )


# -- where the stack comes from -----------------------------------------------------------------


def _fail(reason: str) -> NoReturn:
    ci = " (CI=true)" if in_ci() else ""
    pytest.fail(f"no Kafka broker and schema registry for the tests{ci}: {reason}", pytrace=False)


def _check_reachable(stack: KafkaStack) -> KafkaStack:
    from streams.devtools.localstack.kafka import describe_cluster
    from streams.devtools.localstack.registry import answers

    if describe_cluster(stack.bootstrap_servers, timeout=10.0) is None:
        _fail(f"no broker answers at {stack.bootstrap_servers} ({stack.source})")
    if not answers(stack.schema_registry_url, timeout=10.0):
        _fail(f"no schema registry answers at {stack.schema_registry_url} ({stack.source})")
    return stack


def _docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def _docker_stack() -> Iterator[KafkaStack]:
    """DOCKER PATH (only where an engine runs; not exercised on machines without one).

    A plain apache/kafka container (testcontainers' KafkaContainer drives Confluent images only)
    with a host listener on a fixed loopback port and an internal one for the registry container.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    from streams.devtools.localstack.registry import answers

    kafka_port, registry_port = free_port(), free_port()
    with Network() as network:
        kafka = (
            DockerContainer(DOCKER_KAFKA_IMAGE)
            .with_network(network)
            .with_network_aliases("kafka")
            .with_envs(
                KAFKA_NODE_ID="1",
                KAFKA_PROCESS_ROLES="broker,controller",
                KAFKA_LISTENERS="HOST://:9092,INTERNAL://:19094,CONTROLLER://:9093",
                KAFKA_ADVERTISED_LISTENERS=f"HOST://127.0.0.1:{kafka_port},INTERNAL://kafka:19094",
                KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=(
                    "HOST:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
                ),
                KAFKA_INTER_BROKER_LISTENER_NAME="INTERNAL",
                KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
                KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
                KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
                KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
                KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
                KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            )
            .waiting_for(LogMessageWaitStrategy("Kafka Server started"))
        )
        kafka.ports["9092/tcp"] = ("127.0.0.1", kafka_port)  # type: ignore[assignment]
        registry = (
            DockerContainer(DOCKER_REGISTRY_IMAGE)
            .with_network(network)
            .with_envs(
                SCHEMA_REGISTRY_HOST_NAME="schema-registry",
                SCHEMA_REGISTRY_LISTENERS="http://0.0.0.0:8081",
                SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS="PLAINTEXT://kafka:19094",
            )
        )
        registry.ports["8081/tcp"] = ("127.0.0.1", registry_port)  # type: ignore[assignment]
        with kafka, registry:
            url = f"http://127.0.0.1:{registry_port}"
            deadline = time.monotonic() + 120
            while not answers(url, timeout=2.0) and time.monotonic() < deadline:
                time.sleep(0.5)
            yield KafkaStack(
                bootstrap_servers=f"127.0.0.1:{kafka_port}",
                schema_registry_url=url,
                kafka_version=DOCKER_KAFKA_IMAGE.rpartition(":")[2],
                source=f"Docker, {DOCKER_KAFKA_IMAGE}",
            )


class _EmbeddedStack:
    """The embedded stack, shared by concurrent test sessions of one checkout.

    Each session registers its pid under `<state>/sessions/`; a stack that a session (this or
    another) started is stopped by the last session to leave. A stack someone started by hand
    (`CONSENTGATE_STATE_DIR=.consentgate/test-stack consentgate stack up`) is left running.
    """

    def __init__(self) -> None:
        from streams.devtools.localstack import LocalStack
        from streams.settings import Settings

        settings = Settings.from_env().replace(state_dir=TEST_STACK_DIR, **TEST_PORTS)
        self.stack = LocalStack(settings, cache_dir=_jar_cache())
        self.sessions = self.stack.state_dir / "sessions"
        self.started_by_tests = self.stack.state_dir / "started-by-tests"
        self.me = self.sessions / str(os.getpid())

    def start(self) -> KafkaStack:
        from streams.devtools.localstack import StackError

        with self.stack.lock():
            self.sessions.mkdir(parents=True, exist_ok=True)
            self.me.touch()
            try:
                endpoints = self.stack.up()
            except StackError as exc:
                self.me.unlink(missing_ok=True)
                ports = "/".join(str(port) for port in TEST_PORTS.values())
                _fail(f"the embedded test stack (ports {ports}) did not start: {exc}")
            if endpoints.started:
                self.started_by_tests.touch()
        return KafkaStack(
            bootstrap_servers=endpoints.bootstrap_servers,
            schema_registry_url=endpoints.schema_registry_url,
            kafka_version=endpoints.kafka_version,
            source="embedded, Maven jars",
        )

    def stop(self) -> None:
        from streams.devtools.localstack.process import is_alive

        with self.stack.lock():
            self.me.unlink(missing_ok=True)
            others = []
            for entry in self.sessions.iterdir():
                if entry.name.isdigit() and is_alive(int(entry.name)):
                    others.append(entry)
                else:
                    entry.unlink(missing_ok=True)
            if not others and self.started_by_tests.exists():
                self.stack.down()
                self.started_by_tests.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def kafka_stack(request: pytest.FixtureRequest) -> Iterator[KafkaStack]:
    try:
        configured = configured_endpoints()
    except StackChoiceError as exc:
        _fail(str(exc))
    if configured is not None:
        bootstrap, registry_url = configured
        stack = _check_reachable(
            KafkaStack(bootstrap, registry_url, "unknown", "external, from the environment")
        )
        request.config.stash[_STACK_KEY] = stack
        yield stack
    elif _docker_engine_answers():
        with _docker_stack() as stack:
            request.config.stash[_STACK_KEY] = stack
            yield stack
    else:
        embedded = _EmbeddedStack()
        stack = embedded.start()
        request.config.stash[_STACK_KEY] = stack
        try:
            yield stack
        finally:
            embedded.stop()


@pytest.fixture(scope="session")
def jar_cache() -> Path:
    """The jar cache every test stack shares, so jars are resolved once per checkout."""
    return _jar_cache()


@pytest.fixture(scope="session")
def admin_client(kafka_stack: KafkaStack) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": kafka_stack.bootstrap_servers})


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[..., str]:
    """A factory of names no other test (or earlier run) uses: `unique_name("orders")`."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]

    def make(kind: str = "t") -> str:
        return f"{kind}-{slug}-{uuid.uuid4().hex[:8]}"

    return make
