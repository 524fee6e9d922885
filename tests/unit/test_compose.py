"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine needed)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests import ROOT

BROKERS = ("kafka-1", "kafka-2", "kafka-3")
SERVICES = {*BROKERS, "schema-registry", "worker", "prometheus", "grafana"}
INTERNAL_BOOTSTRAP = [f"{broker}:19092" for broker in BROKERS]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def test_the_services_are_all_there(services):
    assert set(services) >= SERVICES


def test_every_published_port_is_loopback_only(services):
    expected = {
        "kafka-1": "127.0.0.1:9092:9092",
        "kafka-2": "127.0.0.1:9094:9094",
        "kafka-3": "127.0.0.1:9095:9095",
        "schema-registry": "127.0.0.1:8081:8081",
        "worker": "127.0.0.1:6066:6066",
        "prometheus": "127.0.0.1:9090:9090",
        "grafana": "127.0.0.1:3000:3000",
    }
    for name, service in services.items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    for name, port in expected.items():
        assert services[name]["ports"] == [port]


def test_every_service_has_a_healthcheck(services):
    for name in SERVICES:
        check = services[name].get("healthcheck")
        assert check and check["test"], name
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_images_are_pinned(services):
    for name, service in services.items():
        if "image" in service:
            repository, _, tag = service["image"].rpartition(":")
            assert repository and tag and tag != "latest", (name, service["image"])
    for broker in BROKERS:
        assert services[broker]["image"] == "apache/kafka:4.2.0"
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:7.7.")
    assert services["grafana"]["image"].startswith("grafana/grafana:11.")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")


def test_kafka_is_three_kraft_nodes_of_one_cluster_with_host_and_internal_listeners(services):
    envs = [_env(services[broker]) for broker in BROKERS]
    assert {env["CLUSTER_ID"] for env in envs} == {envs[0]["CLUSTER_ID"]}
    assert len(base64.urlsafe_b64decode(envs[0]["CLUSTER_ID"] + "==")) == 16  # a valid Kafka uuid
    assert sorted(env["KAFKA_NODE_ID"] for env in envs) == ["1", "2", "3"]
    for broker, env in zip(BROKERS, envs, strict=True):
        node = env["KAFKA_NODE_ID"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert voters == [f"{n}@{b}:9093" for n, b in zip("123", BROKERS, strict=True)]
        advertised = dict(
            item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        )
        assert advertised["INTERNAL"] == f"{broker}:19092"
        host_port = advertised["HOST"].removeprefix("127.0.0.1:")
        assert services[broker]["ports"] == [f"127.0.0.1:{host_port}:{host_port}"], node
        assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
        assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
        assert broker in " ".join(services[broker]["healthcheck"]["test"])


def test_brokers_replicate_internal_topics_three_ways_with_min_isr_two(services):
    for broker in BROKERS:
        env = _env(services[broker])
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"


def test_the_registry_waits_for_healthy_brokers_and_uses_their_internal_listeners(services):
    registry = services["schema-registry"]
    for broker in BROKERS:
        assert registry["depends_on"][broker]["condition"] == "service_healthy"
    env = _env(registry)
    bootstrap = env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"].split(",")
    assert bootstrap == [f"PLAINTEXT://{address}" for address in INTERNAL_BOOTSTRAP]
    assert env["SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR"] == "3"


def test_the_worker_is_built_here_and_wired_to_the_stack(services):
    worker = services["worker"]
    assert worker["build"] == "."
    assert worker["command"] == ["consentgate", "worker"]
    env = _env(worker)
    assert env["KAFKA_BOOTSTRAP_SERVERS"].split(",") == INTERNAL_BOOTSTRAP
    assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    assert env["CONSENTGATE_WEB_BIND"] == "0.0.0.0"
    assert env["CONSENTGATE_WEB_PORT"] == "6066"
    for dependency in (*BROKERS, "schema-registry"):
        assert worker["depends_on"][dependency]["condition"] == "service_healthy"


def test_the_worker_creates_durable_topics_from_its_environment(services):
    from streams.settings import Settings

    # Read as the worker reads them: RF 3 and min ISR 2 for every topic it creates, so one
    # broker may stop without refusing a write; and no more copies than there are brokers.
    settings = Settings.from_env(_env(services["worker"]))
    assert settings.replication_factor == 3 == len(BROKERS)
    assert settings.min_insync_replicas == 2


def test_the_worker_healthcheck_asks_live_and_ready(services):
    check = " ".join(services["worker"]["healthcheck"]["test"])
    assert "/metrics" not in check
    assert "('live', 'ready')" in check and "http://127.0.0.1:6066/{p}" in check
    assert ":6066" in check


def test_prometheus_and_grafana_mount_the_repository_config_read_only(services):
    assert services["prometheus"]["volumes"] == [
        "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
        "./prometheus/rules:/etc/prometheus/rules:ro",
    ]
    assert set(services["grafana"]["volumes"]) == {
        "./grafana/provisioning:/etc/grafana/provisioning:ro",
        "./grafana/dashboards:/var/lib/grafana/dashboards:ro",
    }


def test_no_secrets_in_the_compose_file(compose):
    text = yaml.safe_dump(compose).lower()
    for word in ("password", "secret", "token", "api_key"):
        assert word not in text, word


def test_dockerfile_builds_the_worker():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line[:1].isupper()]
    first = dict(reversed(instructions))  # first occurrence of each instruction
    assert first["FROM"] == "python:3.11-slim"
    assert 'CMD ["consentgate", "worker"]' in dockerfile
    assert "pip install ." in dockerfile
    assert any(kind == "USER" and value != "root" for kind, value in instructions)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".consentgate", ".git"} <= set(ignored)


def test_the_connectors_run_here_after_the_worker_on_loopback_with_keys_kept_out(services):
    connectors = services["connectors"]
    assert connectors["build"] == "."
    assert connectors["command"] == ["consentgate", "connectors"]
    assert connectors["ports"] == ["127.0.0.1:8088:8088"]
    assert connectors["depends_on"]["worker"]["condition"] == "service_healthy"
    assert _env(connectors)["CONSENTGATE_CONNECTOR_PORT"] == "8088"
    assert "/live" in " ".join(connectors["healthcheck"]["test"])
    assert connectors["env_file"] == [{"path": "./connectors.env", "required": False}]
