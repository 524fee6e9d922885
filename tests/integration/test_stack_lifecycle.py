"""A second, private embedded stack: `up` is idempotent, `down` leaves nothing, data survives.

It has its own state directory and ports, so it never touches the session stack other tests use,
and shares the jar cache, so no jar is fetched twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from streams.devtools.localstack import LocalStack, jars
from streams.devtools.ports import free_port
from streams.settings import Settings

SCHEMA = '{"type": "record", "name": "Ping", "fields": [{"name": "n", "type": "int"}]}'


@pytest.fixture
def private_stack(tmp_path: Path, jar_cache: Path):
    settings = Settings().replace(
        state_dir=tmp_path / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        registry_port=free_port(),
    )
    stack = LocalStack(settings, cache_dir=jar_cache)
    try:
        yield stack
    finally:
        stack.down()


def _report(capsys: pytest.CaptureFixture[str], what: str, started: float) -> None:
    with capsys.disabled():
        print(f"\n[stack lifecycle] {what}: {time.monotonic() - started:.1f} s", end="")


def _cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSENTGATE_", "KAFKA_"))}
    env.update(
        CONSENTGATE_STATE_DIR=str(stack.state_dir),
        CONSENTGATE_KAFKA_PORT=str(stack.settings.kafka_port),
        CONSENTGATE_KAFKA_CONTROLLER_PORT=str(stack.settings.kafka_controller_port),
        CONSENTGATE_REGISTRY_PORT=str(stack.settings.registry_port),
    )
    return subprocess.run(
        [sys.executable, "-m", "streams", "stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_up_is_idempotent_down_is_complete_and_data_survives(private_stack, capsys, unique_name):
    stack = private_stack
    settings = stack.settings
    jars.resolve_kafka(stack.cache_dir, settings.kafka_version)  # fetched once per checkout
    jars.resolve_registry(stack.cache_dir, settings.registry_version)

    started = time.monotonic()
    first = stack.up()
    _report(capsys, "first up (jars cached; formats storage, records CDS archives)", started)
    assert first.started == ("kafka", "registry")
    assert first.kafka_version.startswith("4.")
    pids = {name: stack.running_pid(name) for name in ("kafka", "registry")}
    assert all(pids.values())

    again = stack.up()
    assert again.started == ()
    assert {name: stack.running_pid(name) for name in pids} == pids

    status = stack.status()
    assert status.all_up
    assert [c.pid for c in status.components] == [pids["kafka"], pids["registry"]]
    assert status.components[0].address == f"127.0.0.1:{stack.settings.kafka_port}"
    cli_status = _cli(stack, "status")
    assert cli_status.returncode == 0, cli_status.stdout + cli_status.stderr
    assert "ready" in cli_status.stdout

    # Something to find again after a restart: a topic in Kafka, a schema in the registry.
    topic = unique_name("t")
    admin = AdminClient({"bootstrap.servers": first.bootstrap_servers})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    registry = SchemaRegistryClient({"url": first.schema_registry_url})
    schema_id = registry.register_schema(f"{topic}-value", Schema(SCHEMA, "AVRO"))
    del admin, registry  # no client left retrying a stopped broker in the background

    assert sorted(stack.down()) == ["kafka", "registry"]
    for pid in pids.values():
        assert pid is not None
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} survived down"
    assert not stack.status().any_running
    assert _cli(stack, "status").returncode == 3

    started = time.monotonic()
    restarted = stack.up()
    _report(capsys, "up again (jars cached, storage formatted, CDS archives used)", started)
    assert restarted.started == ("kafka", "registry")
    assert (
        topic
        in AdminClient({"bootstrap.servers": restarted.bootstrap_servers})
        .list_topics(timeout=10)
        .topics
    )
    registry = SchemaRegistryClient({"url": restarted.schema_registry_url})
    assert registry.get_latest_version(f"{topic}-value").schema_id == schema_id
