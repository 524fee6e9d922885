"""Topic administration at start-up: create what is missing, refuse what cannot work.

The three recipient topics must have the same partition count: a recipient's consent, opt-outs and
intents are co-partitioned by address, and the worker that owns partition p of one owns it of all.
A mismatch is a configuration error that no amount of retrying fixes, so it stops the worker with
a message saying which topic has how many partitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams import topics
from streams.settings import Settings


class TopicLayoutError(RuntimeError):
    """The existing topics cannot be used as they are."""


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """What start-up found or created: the partition count of every topic, by base name."""

    partitions: dict[str, int]

    @property
    def recipient_partitions(self) -> int:
        return self.partitions[topics.INTENTS.base]


def topic_configs(spec: topics.TopicSpec) -> dict[str, str]:
    configs: dict[str, str] = {}
    if spec is topics.PARTNER:
        # Latest agreement per party is all the gate needs; compaction keeps the topic small.
        configs["cleanup.policy"] = "compact"
    if spec is topics.INTENTS:
        # Broker time, so decision latency is measured from when Kafka had the intent.
        configs["message.timestamp.type"] = "LogAppendTime"
    return configs


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})


def existing_partitions(
    admin: AdminClient, names: list[str], timeout: float = 10.0
) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {
        name: len(metadata.topics[name].partitions)
        for name in names
        if name in metadata.topics and metadata.topics[name].error is None
    }


def ensure_topics(settings: Settings, admin: AdminClient | None = None) -> TopicLayout:
    """Create missing topics, then check the recipient topics are co-partitioned."""
    admin = admin or admin_client(settings)
    prefix = settings.topic_prefix
    names = {spec.base: spec.name(prefix) for spec in topics.ALL}
    found = existing_partitions(admin, list(names.values()))
    recipient_counts = {
        spec.base: found[names[spec.base]]
        for spec in topics.RECIPIENT_TOPICS
        if names[spec.base] in found
    }
    # New recipient topics follow the existing ones, so adding one never breaks co-partitioning.
    recipient_n = next(iter(recipient_counts.values()), settings.partitions)
    missing = [
        NewTopic(
            names[spec.base],
            num_partitions=recipient_n if spec.recipient_keyed else settings.partitions,
            replication_factor=settings.replication_factor,
            config=topic_configs(spec),
        )
        for spec in topics.ALL
        if names[spec.base] not in found
    ]
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=30).items():
            try:
                future.result()
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise TopicLayoutError(f"cannot create topic {name}: {exc}") from exc
        # Metadata catches up with creation a moment later.
        deadline = time.monotonic() + 15
        while True:
            found = existing_partitions(admin, list(names.values()))
            if all(name in found for name in names.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    absent = [name for name in names.values() if name not in found]
    if absent:
        raise TopicLayoutError(f"topics missing after creation: {', '.join(absent)}")
    check_copartitioned({names[s.base]: found[names[s.base]] for s in topics.RECIPIENT_TOPICS})
    return TopicLayout({base: found[name] for base, name in names.items()})


def check_copartitioned(counts: dict[str, int]) -> None:
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in sorted(counts.items()))
        raise TopicLayoutError(
            "the recipient topics must have the same number of partitions, "
            f"but {shown}; repartition them (or use a new topic prefix) before starting the gate"
        )
