"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine needed)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests import ROOT

SERVICES = {"kafka", "schema-registry", "worker", "prometheus", "grafana"}


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
        "kafka": "127.0.0.1:9092:9092",
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
    assert services["kafka"]["image"] == "apache/kafka:4.2.0"
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:7.7.")
    assert services["grafana"]["image"].startswith("grafana/grafana:11.")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")


def test_kafka_is_a_single_kraft_node_with_host_and_internal_listeners(services):
    env = _env(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["HOST"] == "127.0.0.1:9092"
    assert advertised["INTERNAL"] == "kafka:19092"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16  # a valid Kafka uuid


def test_the_registry_waits_for_a_healthy_broker_and_uses_its_internal_listener(services):
    registry = services["schema-registry"]
    assert registry["depends_on"]["kafka"]["condition"] == "service_healthy"
    bootstrap = _env(registry)["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
    assert bootstrap == "PLAINTEXT://kafka:19092"


def test_the_worker_is_built_here_and_wired_to_the_stack(services):
    worker = services["worker"]
    assert worker["build"] == "."
    assert worker["command"] == ["consentgate", "worker"]
    env = _env(worker)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert env["SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
    assert env["CONSENTGATE_WEB_BIND"] == "0.0.0.0"
    assert env["CONSENTGATE_WEB_PORT"] == "6066"
    assert "/metrics" in " ".join(worker["healthcheck"]["test"])
    for dependency in ("kafka", "schema-registry"):
        assert worker["depends_on"][dependency]["condition"] == "service_healthy"


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
