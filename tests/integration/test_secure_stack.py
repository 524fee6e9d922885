"""A secured embedded stack (TLS, SASL/SCRAM-SHA-512, StandardAuthorizer ACLs) of the test's own.

It has its own state directory and ports, so the session stack other tests share is never touched.
The checks: the right principal gets through; no credentials, a wrong password and a missing ACL
are each refused by the broker; and the contract scenarios, decided by a real worker connecting
as `consentgate-worker` and fed by one connector principal per input topic, match replay.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.producer import GateProducer
from streams import topics
from streams.devtools.localstack import LocalStack
from streams.devtools.localstack import security as sec
from streams.devtools.ports import free_port
from streams.devtools.runner import WorkerProcess
from streams.kafka_config import client_config
from streams.policy.records import Verdict
from streams.policy.replay import replay_objects
from streams.runtime.admin import ensure_topics
from streams.serdes import WireCodec, codec_for
from streams.settings import Settings
from tests.data import read_jsonl, scenario_files

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory, jar_cache: Path) -> Iterator[LocalStack]:
    settings = Settings().replace(
        state_dir=tmp_path_factory.mktemp("secure") / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        registry_port=free_port(),
    )
    stack = LocalStack(settings, cache_dir=jar_cache, secure=True)
    try:
        stack.up(timeout=120)
        yield stack
    finally:
        stack.down()


def gate_as(stack: LocalStack, principal: str, name: str, **changes: Any) -> Settings:
    """Settings of one test's gate (own topics and app id) connecting as `principal`."""
    return stack.client_settings(principal).replace(
        app_id=f"{name}-app", topic_prefix=f"{name}.", **changes
    )


def deliver(config: dict[str, Any], topic: str, timeout: float = 15.0) -> tuple[Any, list[Any]]:
    """Produce one record and wait for its fate: (delivery error or None, client-level errors)."""
    client_errors: list[KafkaError] = []
    outcome: list[Any] = []
    producer = Producer(
        {
            **config,
            "message.timeout.ms": int(timeout * 1000),
            "error_cb": client_errors.append,
            "log_level": 0,
        }
    )
    producer.produce(topic, key=b"k", value=b"v", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(timeout + 5)
    assert outcome, "no delivery report"
    return outcome[0], client_errors


def end_offset(stack: LocalStack, topic: str) -> int:
    consumer = Consumer(
        client_config(stack.client_settings(sec.ADMIN), **{"group.id": "offsets", "log_level": 0})
    )
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        consumer.close()


def test_worker_and_connector_with_their_credentials_get_through(secure_stack, unique_name):
    name = unique_name("ok")
    secure_stack.grant_gate(f"{name}.", f"{name}-app")
    worker = gate_as(secure_stack, sec.WORKER, name, partitions=1)
    ensure_topics(worker)  # the worker creates its own topics
    topic = topics.CONSENT.name(worker.topic_prefix)
    error, _ = deliver(client_config(gate_as(secure_stack, "consent", name)), topic)
    assert error is None
    consumer = Consumer(
        client_config(
            worker, **{"group.id": worker.app_id, "auto.offset.reset": "earliest", "log_level": 0}
        )
    )
    try:
        consumer.subscribe([topic])
        got = None
        deadline = time.monotonic() + 30
        while got is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got = message
        assert got is not None and got.value() == b"v"
        consumer.commit(got, asynchronous=False)  # the worker's own group: allowed
    finally:
        consumer.close()


def test_no_credentials_are_refused(secure_stack, unique_name):
    name = unique_name("anon")
    secure_stack.grant_gate(f"{name}.", f"{name}-app")
    ensure_topics(gate_as(secure_stack, sec.WORKER, name, partitions=1))
    topic = topics.CONSENT.name(f"{name}.")
    bootstrap = secure_stack.endpoints().bootstrap_servers
    ca = str(secure_stack.security_layout.ca_file)
    for config in (
        {"bootstrap.servers": bootstrap},  # plaintext to a TLS listener
        {"bootstrap.servers": bootstrap, "security.protocol": "SSL", "ssl.ca.location": ca},
    ):
        error, _ = deliver(config, topic, timeout=6)
        assert error is not None and error.code() == KafkaError._MSG_TIMED_OUT
    assert end_offset(secure_stack, topic) == 0


def test_a_wrong_password_is_refused(secure_stack, unique_name):
    name = unique_name("badpw")
    secure_stack.grant_gate(f"{name}.", f"{name}-app")
    ensure_topics(gate_as(secure_stack, sec.WORKER, name, partitions=1))
    topic = topics.CONSENT.name(f"{name}.")
    connector = gate_as(secure_stack, "consent", name)
    wrong = connector.replace(sasl_password=connector.sasl_password + "x")
    error, client_errors = deliver(client_config(wrong), topic, timeout=6)
    assert error is not None
    assert KafkaError._AUTHENTICATION in {e.code() for e in client_errors}
    # librdkafka's message names the failure, not the password.
    assert all(wrong.sasl_password not in e.str() for e in client_errors)
    assert end_offset(secure_stack, topic) == 0


def test_a_principal_without_an_acl_is_refused(secure_stack, unique_name):
    name = unique_name("acl")
    secure_stack.grant_gate(f"{name}.", f"{name}-app")
    worker = gate_as(secure_stack, sec.WORKER, name, partitions=1)
    ensure_topics(worker)
    consent_connector = client_config(gate_as(secure_stack, "consent", name))
    # A connector writes its own input topic only: not another input, not an output.
    for spec in (topics.INTENTS, topics.VERDICTS):
        error, _ = deliver(consent_connector, spec.name(worker.topic_prefix), timeout=10)
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # The worker may use its own topics, and nothing it was not granted.
    error, _ = deliver(client_config(worker), topics.VERDICTS.name(worker.topic_prefix))
    assert error is None
    foreign = f"{name}-foreign"
    admin = AdminClient(client_config(secure_stack.client_settings(sec.ADMIN)))
    admin.create_topics([NewTopic(foreign, num_partitions=1)])[foreign].result(30)
    error, _ = deliver(client_config(worker), foreign, timeout=10)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    stranger = Consumer(
        client_config(worker, **{"group.id": f"not-{worker.app_id}", "log_level": 0})
    )
    try:
        stranger.subscribe([topics.VERDICTS.name(worker.topic_prefix)])
        refused = None
        deadline = time.monotonic() + 20
        while refused is None and time.monotonic() < deadline:
            message = stranger.poll(0.5)
            if message is not None and message.error():
                refused = message.error()
        assert refused is not None and refused.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        stranger.close()


class ConnectorProducers:
    """One GateProducer per connector principal: each record goes out as its topic's connector."""

    PRINCIPAL_OF = {spec.base: principal for principal, spec in sec.CONNECTOR_TOPICS.items()}

    def __init__(self, stack: LocalStack, name: str, codec: WireCodec) -> None:
        self._producers = {
            base: GateProducer.for_settings(gate_as(stack, principal, name), codec)
            for base, principal in self.PRINCIPAL_OF.items()
        }

    def publish(self, record: dict[str, Any]) -> None:
        producer = next(iter(self._producers.values()))
        spec = producer.topic_for(record)
        self._producers[spec.base].publish(record, wait=True)

    def close(self) -> None:
        for producer in self._producers.values():
            producer.flush(10)
        self._producers.clear()


class VerdictReader:
    """The gate's verdicts from the beginning (read as the admin: the test's view, not a gate's)."""

    def __init__(self, stack: LocalStack, name: str, codec: WireCodec) -> None:
        self.codec = codec
        self.records: list[dict[str, Any]] = []
        topic = topics.VERDICTS.name(f"{name}.")
        self._consumer = Consumer(
            client_config(
                stack.client_settings(sec.ADMIN),
                **{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False},
            )
        )
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    def wait_for_count(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            for message in self._consumer.consume(500, 0.1):
                if not message.error():
                    self.records.append(self.codec.decode(topics.VERDICTS, message.value()))
        assert len(self.records) >= count, f"{len(self.records)} of {count} verdicts"

    def close(self) -> None:
        self._consumer.close()


def test_scenarios_through_a_worker_on_the_secure_stack_match_replay(
    secure_stack, unique_name, tmp_path
):
    name = unique_name("scn")
    secure_stack.grant_gate(f"{name}.", f"{name}-app")
    settings = gate_as(
        secure_stack,
        sec.WORKER,
        name,
        data_dir=tmp_path / "worker-data",
        web_port=free_port(),
        partitions=3,
    )
    ensure_topics(settings)
    codec = codec_for(settings, register=True)
    producers = ConnectorProducers(secure_stack, name, codec)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    verdicts = VerdictReader(secure_stack, name, codec)
    try:
        compared = 0
        for path in scenario_files("scenarios"):
            records = read_jsonl(path)
            expected = [v for v in replay_objects(records) if isinstance(v, Verdict)]
            got: list[dict[str, Any]] = []
            for record in records:
                producers.publish(record)
                if record.get("type") == "intent":
                    before = len(verdicts.records)
                    verdicts.wait_for_count(before + 1)
                    got.append(verdicts.records[before])
            assert [v["id"] for v in got] == [v.id for v in expected], path.name
            for want, have in zip(expected, got, strict=True):
                assert (have["decision"], have["reason"], list(have["reasons"])) == (
                    want.decision,
                    want.reason,
                    list(want.reasons),
                ), f"{path.name} {want.id}"
                compared += 1
        assert compared > 0
        assert worker.alive()
    finally:
        verdicts.close()
        producers.close()
        worker.stop()
    # No password of the stack in the worker's or the broker's log.
    credentials = secure_stack.credentials()
    logs = (tmp_path / "worker.log").read_text() + secure_stack.log_file("kafka").read_text()
    for principal in sec.PRINCIPALS:
        assert credentials.password(principal) not in logs, principal
